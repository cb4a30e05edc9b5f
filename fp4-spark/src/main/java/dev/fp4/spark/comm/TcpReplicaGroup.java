package dev.fp4.spark.comm;

import dev.fp4.core.gemm.Gemm;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.train.ReplicaGroup;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ReplicaGroup} over TCP: every pair of replicas shares one authenticated connection,
 * and gradients are summed by a reduce-scatter followed by an all-gather, one parameter (bucket)
 * at a time, while the backward pass goes on.
 *
 * <p><b>The all-reduce.</b> Parameter p of n values is cut into {@code size} chunks,
 * chunk j = [⌊n·j/size⌋, ⌊n·(j+1)/size⌋), owned by rank j. When {@link #reduce}(p) is called,
 * the replica sends chunk j of its gradient to rank j for every j ≠ rank (reduce-scatter). The
 * owner, once it holds all {@code size} pieces of its chunk, adds them in rank order,
 * ((g₀ + g₁) + g₂) + …, in FP32 (so the result does not depend on arrival order), rounds the sum
 * through the {@link GradientCodec}, keeps it, and sends it to every other rank (all-gather). Each
 * replica therefore ends with the same bits. Payloads travel in frames of at most
 * {@code frameBytes}, so no message, buffer or parameter size is limited by 2 GiB arrays of bytes.
 *
 * <p><b>Threads.</b> Per peer, a sender thread (writing queued pieces, so {@link #reduce} returns
 * at once) and a reader thread (decoding into per-peer buffers; the thread that completes a chunk
 * reduces it). Besides the gradients, the group holds one receive buffer per parameter and peer,
 * about (size − 1)/size of the model's gradient.
 *
 * <p><b>Trust and failure.</b> Connections are authenticated with the job's secret
 * ({@link PeerHandshake}); the listening socket stays open and refuses (and counts, see
 * {@link #rejectedConnections()}) every later connection, whose bytes are never applied. Every
 * wait — connecting, the handshake, {@link #awaitReductions}, {@link #allGather} — is bounded by
 * the settings' timeout, and a lost or silent peer ends it with a {@link PeerFailureException}
 * naming its rank and address.
 */
public final class TcpReplicaGroup implements ReplicaGroup, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TcpReplicaGroup.class);
    private static final byte REDUCE = 1;
    private static final byte GATHER = 2;
    private static final byte SCALARS = 3;
    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    /**
     * How a group talks.
     *
     * @param codec      the gradient payload's format
     * @param frameBytes largest payload of one frame, at least 64 bytes (default 1 MiB)
     * @param timeout    the longest any single wait may last
     */
    public record Settings(GradientCodec codec, int frameBytes, Duration timeout) implements java.io.Serializable {
        /** Validates. */
        public Settings {
            Objects.requireNonNull(codec, "codec");
            Objects.requireNonNull(timeout, "timeout");
            if (frameBytes < 64) {
                throw new IllegalArgumentException("frameBytes must be at least 64, got " + frameBytes);
            }
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, got " + timeout);
            }
        }

        /** FP32 payloads, 1 MiB frames, 10 minutes. */
        public static Settings defaults() {
            return new Settings(GradientCodec.FP32, 1 << 20, Duration.ofMinutes(10));
        }
    }

    private final int rank;
    private final int size;
    private final int attempt;
    private final byte[] secret;
    private final List<Parameter> params;
    private final Map<Parameter, Integer> index = new IdentityHashMap<>();
    private final GradientCodec codec;
    private final int frameValues;
    private final long timeoutNanos;
    private final long fingerprint;
    private final ServerSocket server;
    private final String[] addresses;
    private final Peer[] peers;
    private final CountDownLatch meshReady;
    private final float[][][] pieces;            // [param][rank][own chunk]; [param][rank] is the sum's scratch
    private final AtomicLong[] remaining;        // per param: values (and the own piece) still to arrive this round
    private final AtomicIntegerArray reduceRound; // per param: rounds reduced so far
    private final boolean[] submitted;           // per param: reduce() called this round (compute thread only)
    private final long perRound;                 // events that complete a round (see arm())
    private final AtomicLong outstanding = new AtomicLong();
    private final long[] expectedFrom;           // per peer: values it sends per round
    private final AtomicInteger rejected = new AtomicInteger();
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong bytesReceived = new AtomicLong();
    private final Object signal = new Object();
    private volatile Throwable failure;
    private volatile boolean closed;
    private volatile int round;
    private long gatherSeq;

    /** A new random job secret: made once per run by the driver and shipped with the tasks. */
    public static byte[] newJobSecret() {
        return PeerHandshake.newSecret();
    }

    private TcpReplicaGroup(int rank, int size, int attempt, byte[] secret, List<Parameter> params, Settings settings)
            throws IOException {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("need 0 <= rank < size, got rank " + rank + " of " + size);
        }
        this.rank = rank;
        this.size = size;
        this.attempt = attempt;
        this.secret = secret.clone();
        this.params = List.copyOf(params);
        this.codec = settings.codec();
        this.frameValues = settings.frameBytes() / codec.bytesPerValue();
        this.timeoutNanos = settings.timeout().toNanos();
        for (int i = 0; i < this.params.size(); i++) {
            if (index.put(this.params.get(i), i) != null) {
                throw new IllegalArgumentException("parameter " + this.params.get(i).name() + " is listed twice");
            }
        }
        this.fingerprint = fingerprint(this.params, size, codec, frameValues);
        int count = this.params.size();
        this.pieces = new float[count][size][];
        this.remaining = new AtomicLong[count];
        this.reduceRound = new AtomicIntegerArray(count);
        this.submitted = new boolean[count];
        this.expectedFrom = new long[size];
        long events = 0;
        for (int i = 0; i < count; i++) {
            int n = this.params.get(i).size();
            int own = chunkEnd(n, rank) - chunkStart(n, rank);
            for (int r = 0; r < size; r++) {
                pieces[i][r] = new float[own];
                if (r != rank) {
                    expectedFrom[r] += own + (chunkEnd(n, r) - chunkStart(n, r));
                }
            }
            remaining[i] = new AtomicLong((long) (size - 1) * own + 1);
            // own reduction, the other chunks arriving, and our chunk written to each peer
            events += 1 + (n - own) + (own > 0 ? size - 1 : 0);
        }
        this.perRound = events;
        this.outstanding.set(events);
        this.peers = new Peer[size];
        this.meshReady = new CountDownLatch(size - 1 - rank);
        this.server = new ServerSocket();
        this.server.bind(new InetSocketAddress(0));
        this.addresses = new String[size];
    }

    /**
     * Opens replica {@code rank}'s side of a group and connects it to every other replica.
     *
     * @param rank          this replica's rank
     * @param size          number of replicas
     * @param attempt       the job attempt (replicas of different attempts refuse each other)
     * @param secret        the job's secret, the same on every replica
     * @param params        the model's parameters in their fixed order (the same names and sizes
     *                      on every replica)
     * @param settings      codec, frame size and timeout (the same on every replica)
     * @param advertiseHost the host name or address other replicas reach this one at
     * @param exchange      publishes this replica's "host:port" and returns every replica's, in
     *                      rank order (Spark's {@code BarrierTaskContext.allGather})
     * @throws PeerFailureException when a peer cannot be reached or authenticated within the
     *                              timeout (naming it)
     */
    public static TcpReplicaGroup open(int rank, int size, int attempt, byte[] secret, List<Parameter> params, Settings settings,
                                       String advertiseHost, Function<String, String[]> exchange) throws IOException {
        TcpReplicaGroup g = new TcpReplicaGroup(rank, size, attempt, secret, params, settings);
        try {
            g.connect(advertiseHost, exchange);
            return g;
        } catch (IOException | RuntimeException e) {
            g.close();
            throw e;
        }
    }

    private void connect(String advertiseHost, Function<String, String[]> exchange) throws IOException {
        String[] all = exchange.apply(advertiseHost + ":" + server.getLocalPort());
        if (all.length != size) {
            throw new IllegalStateException("the address exchange returned " + all.length + " addresses for " + size + " replicas");
        }
        System.arraycopy(all, 0, addresses, 0, size);
        Thread.ofPlatform().daemon().name("fp4-allreduce-accept-" + rank).start(this::acceptLoop);
        long deadline = System.nanoTime() + timeoutNanos;
        for (int j = 0; j < rank; j++) {
            register(j, dial(j, deadline));
        }
        try {
            if (!meshReady.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                List<String> missing = new ArrayList<>();
                for (int j = rank + 1; j < size; j++) {
                    if (peers[j] == null) {
                        missing.add("rank " + j + " (" + addresses[j] + ")");
                    }
                }
                throw new PeerFailureException("rank " + rank + ": no connection from " + String.join(", ", missing) + " within "
                        + seconds(timeoutNanos));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerFailureException("rank " + rank + ": interrupted while connecting", e);
        }
        for (Peer p : peers) {
            if (p != null) {
                p.start();
            }
        }
        LOG.debug("rank {}: connected to {} peers ({})", rank, size - 1, String.join(", ", addresses));
    }

    private Socket dial(int j, long deadline) throws IOException {
        InetSocketAddress at = parse(addresses[j]);
        IOException last = null;
        while (System.nanoTime() < deadline) {
            Socket s = new Socket();
            try {
                s.connect(at, (int) Math.min(HANDSHAKE_TIMEOUT.toMillis(), Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
                configure(s);
                s.setSoTimeout((int) HANDSHAKE_TIMEOUT.toMillis());
                PeerHandshake.connect(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()), secret, rank,
                        j, attempt, fingerprint);
                s.setSoTimeout(0);
                return s;
            } catch (PeerHandshake.Rejected e) {
                s.close();
                throw new PeerFailureException("rank " + rank + ": " + addresses[j] + ": " + e.getMessage(), e);
            } catch (IOException e) {
                s.close();
                last = e;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new PeerFailureException("rank " + rank + ": interrupted while connecting to rank " + j, ie);
                }
            }
        }
        throw new PeerFailureException("rank " + rank + ": cannot reach rank " + j + " at " + addresses[j] + " within "
                + seconds(timeoutNanos) + (last == null ? "" : ": " + last), last);
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    fail(new PeerFailureException("rank " + rank + ": the listening socket failed", e));
                }
                return;
            }
            Thread.ofVirtual().name("fp4-allreduce-handshake-" + rank).start(() -> handshake(s));
        }
    }

    private void handshake(Socket s) {
        String from = String.valueOf(s.getRemoteSocketAddress());
        try {
            configure(s);
            s.setSoTimeout((int) HANDSHAKE_TIMEOUT.toMillis());
            int peer = PeerHandshake.accept(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()), secret,
                    rank, attempt, fingerprint);
            s.setSoTimeout(0);
            synchronized (peers) {
                if (peer <= rank || peer >= size || peers[peer] != null || closed) {
                    throw new PeerHandshake.Rejected("rank " + peer + " is not expected to connect (now)");
                }
                register(peer, s);
            }
            meshReady.countDown();
        } catch (IOException e) {
            rejected.incrementAndGet();
            LOG.warn("rank {}: refused a connection from {}: {}", rank, from, e.getMessage());
            try {
                s.close();
            } catch (IOException ignored) {
                // closing a refused connection
            }
        }
    }

    private void register(int j, Socket s) throws IOException {
        peers[j] = new Peer(j, addresses[j], s);
    }

    private static void configure(Socket s) throws IOException {
        s.setTcpNoDelay(true);
        s.setKeepAlive(true);
    }

    private static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("not host:port: " + hostPort);
        }
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    /** Every replica's "host:port", in rank order. */
    public List<String> addresses() {
        return List.of(addresses);
    }

    /** Connections refused so far (bad credentials, other attempts, unexpected peers). */
    public int rejectedConnections() {
        return rejected.get();
    }

    /** Bytes of frames written to peers so far. */
    public long bytesSent() {
        return bytesSent.get();
    }

    /** Bytes of frames read from peers so far. */
    public long bytesReceived() {
        return bytesReceived.get();
    }

    private int chunkStart(int n, int j) {
        return Gemm.splitPoint(n, j, size);
    }

    private int chunkEnd(int n, int j) {
        return Gemm.splitPoint(n, j + 1, size);
    }

    @Override
    public void reduce(Parameter p) {
        Integer boxed = index.get(p);
        if (boxed == null) {
            throw new IllegalArgumentException("parameter " + p.name() + " is not one of this group's");
        }
        int i = boxed;
        if (submitted[i]) {
            throw new IllegalStateException("parameter " + p.name() + " was reduced twice in one step");
        }
        submitted[i] = true;
        checkFailure();
        int n = p.size();
        for (int j = 0; j < size; j++) {
            if (j != rank && chunkEnd(n, j) > chunkStart(n, j)) {
                peers[j].send(new Job(REDUCE, i, chunkStart(n, j), chunkEnd(n, j), 0, round, null, 0));
            }
        }
        if (remaining[i].decrementAndGet() == 0) {
            reduceOwn(i);
        }
    }

    /** Sums this replica's chunk of parameter i in rank order, keeps it, and sends it to every peer. */
    private void reduceOwn(int i) {
        float[] g = params.get(i).grad();
        int from = chunkStart(g.length, rank);
        int len = chunkEnd(g.length, rank) - from;
        float[] acc = pieces[i][rank];
        for (int r = 0; r < size; r++) {
            float[] src = r == rank ? g : pieces[i][r];
            int off = r == rank ? from : 0;
            if (r == 0) {
                System.arraycopy(src, off, acc, 0, len);
            } else {
                for (int k = 0; k < len; k++) {
                    acc[k] += src[off + k];
                }
            }
        }
        System.arraycopy(acc, 0, g, from, len);
        int k = 0;
        if (size > 1) {                                          // what the peers will decode
            k = codec.scaleExponent(g, from, len);
            codec.roundTrip(g, from, len, k);
        }
        int r = reduceRound.getAndIncrement(i);
        remaining[i].set((long) (size - 1) * len + 1);          // re-armed before any peer can send the next round's pieces
        if (len > 0) {
            for (int j = 0; j < size; j++) {
                if (j != rank) {
                    peers[j].send(new Job(GATHER, i, from, from + len, k, r, null, 0));
                }
            }
        }
        done(1);
    }

    private void done(long events) {
        if (outstanding.addAndGet(-events) == 0) {
            synchronized (signal) {
                signal.notifyAll();
            }
        }
    }

    @Override
    public void awaitReductions(List<Parameter> all) {
        for (Parameter p : all) {
            Integer i = index.get(p);
            if (i != null && !submitted[i]) {
                reduce(p);
            }
        }
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (signal) {
            while (outstanding.get() != 0) {
                checkRoundFailure();
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new PeerFailureException("rank " + rank + " waited " + seconds(timeoutNanos) + " for the gradients of "
                            + laggards() + " (round " + round + ")");
                }
                try {
                    signal.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new PeerFailureException("rank " + rank + ": interrupted in the all-reduce", e);
                }
            }
        }
        Arrays.fill(submitted, false);
        round++;
        for (Peer p : peers) {
            if (p != null) {
                p.receivedThisRound.set(0);
            }
        }
        outstanding.set(perRound);           // before any peer can send the next round's chunks
    }

    private String laggards() {
        List<String> names = new ArrayList<>();
        for (Peer p : peers) {
            if (p != null && p.receivedThisRound.get() < expectedFrom[p.rank]) {
                names.add("rank " + p.rank + " (" + p.address + ", " + p.receivedThisRound.get() + " of " + expectedFrom[p.rank]
                        + " values)");
            }
        }
        return names.isEmpty() ? "its own sends to the peers" : String.join(", ", names);
    }

    @Override
    public double[][] allGather(double[] values) {
        long seq = gatherSeq++;
        double[][] out = new double[size][];
        out[rank] = values.clone();
        for (Peer p : peers) {
            if (p != null) {
                p.send(new Job(SCALARS, 0, 0, 0, 0, 0, out[rank], seq));
            }
        }
        long deadline = System.nanoTime() + timeoutNanos;
        for (Peer p : peers) {
            if (p == null) {
                continue;
            }
            try {
                Scalars m = p.scalars.poll();
                while (m == null) {
                    if (p.lost != null && (m = p.scalars.poll()) == null) {   // its reader may queue, then see the end
                        checkFailure();
                    }
                    if (m != null) {
                        break;
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new PeerFailureException("rank " + rank + " waited " + seconds(timeoutNanos) + " for the values of rank "
                                + p.rank + " (" + p.address + ")");
                    }
                    m = p.scalars.poll(Math.min(left, 100_000_000L), TimeUnit.NANOSECONDS);
                }
                if (m.seq != seq) {
                    throw new PeerFailureException("rank " + rank + ": rank " + p.rank + " sent gather " + m.seq + ", expected " + seq);
                }
                out[p.rank] = m.values;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PeerFailureException("rank " + rank + ": interrupted in a gather", e);
            }
        }
        return out;
    }

    /**
     * Throws if this round cannot complete: the group failed, or a lost peer still owes values of this round
     * or missed some of ours. A peer that sent all it owed and hung up (it finished first) is no failure.
     */
    private void checkRoundFailure() {
        boolean fatal = failure != null;
        for (Peer p : peers) {
            if (p != null && p.lost != null && (p.sendFailed || p.receivedThisRound.get() < expectedFrom[p.rank])) {
                fatal = true;
            }
        }
        if (fatal) {
            checkFailure();
        }
    }

    /** Throws naming every lost peer (or the group's own failure), if any. */
    private void checkFailure() {
        List<String> lost = new ArrayList<>();
        for (Peer p : peers) {
            if (p != null && p.lost != null) {
                lost.add(p.lost);
            }
        }
        Throwable f = failure;
        if (!lost.isEmpty()) {
            throw new PeerFailureException("rank " + rank + ": " + String.join("; ", lost), f);
        }
        if (f != null) {
            throw new PeerFailureException(f.getMessage(), f);
        }
    }

    /** Records a failure of the group itself (not of one peer) and wakes the waiters. */
    private void fail(Throwable t) {
        if (failure == null && !closed) {
            failure = t;
        }
        wake();
    }

    private void wake() {
        synchronized (signal) {
            signal.notifyAll();
        }
    }

    /** Closes every connection and the listening socket; waits are released with a failure. */
    @Override
    public void close() {
        closed = true;                          // from here on, peers ending is expected
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (Peer p : peers) {
            if (p != null) {
                p.close();
            }
        }
        synchronized (signal) {
            signal.notifyAll();
        }
    }

    private static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
    }

    /** A hash of what two replicas must agree on: sizes, names, codec and frame size. */
    static long fingerprint(List<Parameter> params, int size, GradientCodec codec, int frameValues) {
        long h = 0xcbf29ce484222325L;
        h = mix(h, size);
        h = mix(h, codec.ordinal());
        h = mix(h, frameValues);
        for (Parameter p : params) {
            h = mix(h, p.size());
            for (byte b : p.name().getBytes(StandardCharsets.UTF_8)) {
                h = mix(h, b);
            }
        }
        return h;
    }

    private static long mix(long h, long v) {
        return (h ^ v) * 0x100000001b3L;
    }

    /** Something to write to a peer: a piece, a reduced chunk, or a gather's values. */
    private record Job(byte type, int param, int from, int to, int scale, int round, double[] values, long seq) {
    }

    private record Scalars(long seq, double[] values) {
    }

    private static final Job STOP = new Job((byte) 0, 0, 0, 0, 0, 0, null, 0);

    /** One connection: a sender and a reader thread. */
    private final class Peer {
        final int rank;
        final String address;
        final Socket socket;
        final DataInputStream in;
        final DataOutputStream out;
        final BlockingQueue<Job> jobs = new LinkedBlockingQueue<>();
        final BlockingQueue<Scalars> scalars = new LinkedBlockingQueue<>();
        final AtomicLong receivedThisRound = new AtomicLong();
        volatile String lost;                      // why this peer is gone, once it is
        volatile boolean sendFailed;               // a write to it failed: something we owe it may be unsent
        private Thread sender;
        private Thread reader;

        Peer(int rank, String address, Socket socket) throws IOException {
            this.rank = rank;
            this.address = address;
            this.socket = socket;
            this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
            this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
        }

        void start() {
            String me = TcpReplicaGroup.this.rank + "-" + rank;
            sender = Thread.ofPlatform().daemon().name("fp4-allreduce-send-" + me).start(this::sendLoop);
            reader = Thread.ofPlatform().daemon().name("fp4-allreduce-recv-" + me).start(this::readLoop);
        }

        void send(Job j) {
            jobs.add(j);
        }

        /** Lets the sender write what is queued (at most 10 s), then closes the connection. */
        void close() {
            jobs.add(STOP);
            try {
                if (sender != null && lost == null) {
                    sender.join(10_000);
                }
                socket.shutdownOutput();
            } catch (IOException ignored) {
                // the peer may be gone already
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
        }

        /** Marks this peer gone (a peer that ends after sending all it had to send is harmless). */
        private void lose(String why) {
            if (lost == null && !closed) {
                lost = why;
                LOG.debug("rank {}: {}", TcpReplicaGroup.this.rank, why);
            }
            wake();
        }

        private String who() {
            return "rank " + rank + " (" + address + ")";
        }

        private void sendLoop() {
            ByteBuffer buf = ByteBuffer.allocate(frameValues * codec.bytesPerValue());
            try {
                while (true) {
                    Job j = jobs.take();
                    if (j == STOP) {
                        return;
                    }
                    if (j.type == SCALARS) {
                        out.writeByte(SCALARS);
                        out.writeLong(j.seq);
                        out.writeInt(j.values.length);
                        for (double v : j.values) {
                            out.writeDouble(v);
                        }
                        bytesSent.addAndGet(13L + 8L * j.values.length);
                    } else {
                        writeValues(j, buf);
                        if (j.type == GATHER) {
                            // the chunk is encoded (out of the gradient) and counted before it is flushed, so a
                            // peer that has it, finishes its round and hangs up finds nothing left to count here
                            done(1);
                        }
                    }
                    out.flush();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException e) {
                sendFailed = true;
                lose("sending to " + who() + " failed: " + e.getMessage());
            }
        }

        private void writeValues(Job j, ByteBuffer buf) throws IOException {
            float[] g = params.get(j.param).grad();
            int k = j.type == REDUCE ? codec.scaleExponent(g, j.from, j.to - j.from) : j.scale;
            for (int off = j.from; off < j.to; off += frameValues) {
                int count = Math.min(frameValues, j.to - off);
                buf.clear();
                codec.encode(g, off, count, k, buf);
                out.writeByte(j.type);
                out.writeInt(j.param);
                out.writeInt(j.round);
                out.writeInt(off);
                out.writeInt(count);
                out.writeInt(k);
                out.write(buf.array(), 0, buf.position());
                bytesSent.addAndGet(21L + buf.position());
            }
        }

        private void readLoop() {
            ByteBuffer buf = ByteBuffer.allocate(frameValues * codec.bytesPerValue());
            try {
                while (true) {
                    int type = in.read();
                    if (type < 0) {
                        throw new EOFException("connection closed");
                    }
                    if (type == SCALARS) {
                        long seq = in.readLong();
                        int n = in.readInt();
                        if (n < 0 || n > 1 << 20) {
                            throw new IOException("bad gather length " + n);
                        }
                        double[] v = new double[n];
                        for (int i = 0; i < n; i++) {
                            v[i] = in.readDouble();
                        }
                        bytesReceived.addAndGet(13L + 8L * n);
                        scalars.add(new Scalars(seq, v));
                    } else if (type == REDUCE || type == GATHER) {
                        readValues((byte) type, buf);
                    } else {
                        throw new IOException("unknown frame type " + type);
                    }
                }
            } catch (IOException e) {
                lose("lost " + who() + ": " + e.getMessage());
            }
        }

        private void readValues(byte type, ByteBuffer buf) throws IOException {
            int param = in.readInt();
            int frameRound = in.readInt();
            int off = in.readInt();
            int count = in.readInt();
            int k = in.readInt();
            if (param < 0 || param >= params.size() || count <= 0 || count > frameValues) {
                throw new IOException("bad frame header (parameter " + param + ", " + count + " values)");
            }
            float[] g = params.get(param).grad();
            int owner = type == REDUCE ? TcpReplicaGroup.this.rank : rank;
            int from = chunkStart(g.length, owner);
            int to = chunkEnd(g.length, owner);
            if (off < from || off > to - count) {
                throw new IOException("frame [" + off + ", " + (off + count) + ") of " + params.get(param).name()
                        + " lies outside chunk [" + from + ", " + to + ")");
            }
            int expectedRound = type == REDUCE ? reduceRound.get(param) : round;
            if (frameRound != expectedRound) {
                throw new IOException("frame of round " + frameRound + " for " + params.get(param).name() + ", expected round "
                        + expectedRound);
            }
            int bytes = count * codec.bytesPerValue();
            buf.clear();
            in.readFully(buf.array(), 0, bytes);
            buf.limit(bytes);
            bytesReceived.addAndGet(21L + bytes);
            receivedThisRound.addAndGet(count);
            if (type == REDUCE) {
                codec.decode(buf, count, k, pieces[param][rank], off - from);
                if (remaining[param].addAndGet(-count) == 0) {
                    reduceOwn(param);
                }
            } else {
                codec.decode(buf, count, k, g, off);
                done(count);
            }
        }
    }

    /** A peer could not be reached, authenticated or heard from in time, or broke the protocol. */
    public static final class PeerFailureException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        PeerFailureException(String message) {
            super(message);
        }

        PeerFailureException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
