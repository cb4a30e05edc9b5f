package dev.fp4.spark.comm;

import dev.fp4.nn.train.StepRecord;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rank 0's one-way report to the driver: each step's record, the replicas' compute and wait
 * times, and checkpoints, as they happen, so that the driver shows live progress while the whole
 * run is one barrier stage (no driver round-trip per step). The connection is authenticated with
 * the job's secret like the replicas' own ({@link PeerHandshake}); a lost report never stops
 * training (the workers' results still reach the driver through Spark when the stage ends).
 */
public final class ProgressChannel {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressChannel.class);
    private static final int DRIVER = -1;
    private static final byte STEP = 1;
    private static final byte TIMES = 2;
    private static final byte CHECKPOINT = 3;
    private static final byte ATTEMPT = 4;

    private ProgressChannel() {
    }

    /** What the driver is told. Called on the server's reader thread, one message at a time. */
    public interface Receiver {
        /**
         * The replicas of attempt {@code attempt} are connected (sent by rank 0 at the start of
         * each attempt), reachable at {@code addresses} in rank order.
         */
        void onAttempt(int attempt, List<String> addresses);

        /** A step's record. */
        void onStep(StepRecord record);

        /** Each replica's compute and all-reduce wait seconds of a step. */
        void onReplicaTimes(long step, double[] computeSeconds, double[] waitSeconds);

        /** A checkpoint rank 0 wrote. */
        void onCheckpoint(long step, String path);
    }

    /** The driver's end: listens, authenticates, and feeds a {@link Receiver}. */
    public static final class Server implements AutoCloseable {
        private final ServerSocket socket;
        private final byte[] secret;
        private final Receiver receiver;
        private final AtomicInteger rejected = new AtomicInteger();
        private volatile boolean closed;

        /**
         * Listens on an ephemeral port of {@code bindHost}.
         *
         * @param secret   the job's secret
         * @param receiver where messages go
         */
        public Server(String bindHost, byte[] secret, Receiver receiver) throws IOException {
            this.socket = new ServerSocket();
            this.socket.bind(new InetSocketAddress(bindHost, 0));
            this.secret = secret.clone();
            this.receiver = receiver;
            Thread.ofPlatform().daemon().name("fp4-progress-accept").start(this::acceptLoop);
        }

        /** The port workers connect to. */
        public int port() {
            return socket.getLocalPort();
        }

        /** Connections refused so far. */
        public int rejectedConnections() {
            return rejected.get();
        }

        private void acceptLoop() {
            while (!closed) {
                try {
                    Socket s = socket.accept();
                    Thread.ofPlatform().daemon().name("fp4-progress-read").start(() -> serve(s));
                } catch (IOException e) {
                    if (!closed) {
                        LOG.warn("progress channel: listening failed: {}", e.toString());
                    }
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                s.setSoTimeout(10_000);
                DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                try {
                    PeerHandshake.accept(in, out, secret, DRIVER, -1, 0);
                } catch (IOException e) {
                    rejected.incrementAndGet();
                    LOG.warn("progress channel: refused a connection from {}: {}", s.getRemoteSocketAddress(), e.getMessage());
                    return;
                }
                s.setSoTimeout(0);
                while (!closed) {
                    int type = in.read();
                    if (type < 0) {
                        return;
                    }
                    switch (type) {
                        case ATTEMPT -> {
                            int attempt = in.readInt();
                            int n = in.readInt();
                            if (n < 0 || n > 1 << 16) {
                                throw new IOException("bad replica count " + n);
                            }
                            List<String> addresses = new ArrayList<>();
                            for (int i = 0; i < n; i++) {
                                addresses.add(in.readUTF());
                            }
                            receiver.onAttempt(attempt, addresses);
                        }
                        case STEP -> receiver.onStep(new StepRecord(in.readLong(), in.readDouble(), in.readDouble(), in.readDouble(),
                                in.readDouble(), in.readDouble()));
                        case TIMES -> {
                            long step = in.readLong();
                            double[] c = readDoubles(in);
                            double[] w = readDoubles(in);
                            receiver.onReplicaTimes(step, c, w);
                        }
                        case CHECKPOINT -> receiver.onCheckpoint(in.readLong(), in.readUTF());
                        default -> throw new IOException("unknown progress message " + type);
                    }
                }
            } catch (EOFException e) {
                // the worker ended
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    LOG.warn("progress channel: {}", e.toString());
                }
            }
        }

        private static double[] readDoubles(DataInputStream in) throws IOException {
            int n = in.readInt();
            if (n < 0 || n > 1 << 16) {
                throw new IOException("bad length " + n);
            }
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = in.readDouble();
            }
            return v;
        }

        @Override
        public void close() {
            closed = true;
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    /**
     * Rank 0's end. Every method is best-effort: after a failure the client stays silent and
     * training goes on.
     */
    public static final class Client implements AutoCloseable {
        private Socket socket;
        private DataOutputStream out;

        /**
         * Connects and authenticates; silent (logs a warning) when the driver cannot be reached.
         *
         * @param hostPort the driver's "host:port"
         */
        public Client(String hostPort, byte[] secret, int attempt, Duration timeout) {
            try {
                int colon = hostPort.lastIndexOf(':');
                Socket s = new Socket();
                s.connect(new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))),
                        (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
                s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
                s.setTcpNoDelay(true);
                DataInputStream in = new DataInputStream(s.getInputStream());
                out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
                PeerHandshake.connect(in, out, secret, 0, DRIVER, attempt, 0);
                socket = s;
            } catch (IOException | RuntimeException e) {
                LOG.warn("no live progress for the driver at {}: {}", hostPort, e.toString());
                out = null;
            }
        }

        /** Reports the start of an attempt and the replicas' addresses. */
        public void attempt(int attempt, List<String> addresses) {
            send(o -> {
                o.writeByte(ATTEMPT);
                o.writeInt(attempt);
                o.writeInt(addresses.size());
                for (String a : addresses) {
                    o.writeUTF(a);
                }
            });
        }

        /** Reports a step. */
        public void step(StepRecord r) {
            send(o -> {
                o.writeByte(STEP);
                o.writeLong(r.step());
                o.writeDouble(r.trainLoss());
                o.writeDouble(r.valLoss());
                o.writeDouble(r.lr());
                o.writeDouble(r.gradNorm());
                o.writeDouble(r.tokensPerSec());
            });
        }

        /** Reports the replicas' times of a step. */
        public void times(long step, double[] compute, double[] wait) {
            send(o -> {
                o.writeByte(TIMES);
                o.writeLong(step);
                writeDoubles(o, compute);
                writeDoubles(o, wait);
            });
        }

        /** Reports a checkpoint. */
        public void checkpoint(long step, String path) {
            send(o -> {
                o.writeByte(CHECKPOINT);
                o.writeLong(step);
                o.writeUTF(path);
            });
        }

        private static void writeDoubles(DataOutputStream o, double[] v) throws IOException {
            o.writeInt(v.length);
            for (double x : v) {
                o.writeDouble(x);
            }
        }

        private interface Write {
            void to(DataOutputStream o) throws IOException;
        }

        private void send(Write w) {
            if (out == null) {
                return;
            }
            try {
                w.to(out);
                out.flush();
            } catch (IOException e) {
                LOG.warn("live progress to the driver stopped: {}", e.toString());
                out = null;
            }
        }

        @Override
        public void close() {
            try {
                if (socket != null) {
                    socket.close();
                }
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
