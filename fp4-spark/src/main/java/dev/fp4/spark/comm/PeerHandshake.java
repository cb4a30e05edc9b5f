package dev.fp4.spark.comm;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual authentication of two replicas of one job over a fresh connection, by HMAC-SHA256 over
 * both sides' random nonces with the job's secret (which never crosses the wire):
 * <ol>
 * <li>connector → acceptor: magic, protocol version, its rank, the attempt, nonce c;</li>
 * <li>acceptor → connector: nonce a, its rank, HMAC(secret, "accept" ‖ c ‖ a ‖ ranks ‖ attempt);</li>
 * <li>connector checks it, then sends HMAC(secret, "connect" ‖ a ‖ c ‖ ranks ‖ attempt) and the
 * fingerprint of its parameters and codec;</li>
 * <li>acceptor checks the MAC and the fingerprint.</li>
 * </ol>
 * A peer without the secret cannot produce either MAC, a replayed exchange fails on the fresh
 * nonce, and nothing a connection sends is read as data before both checks passed.
 */
final class PeerHandshake {
    static final int MAGIC = 0x46503453;          // "FP4S"
    static final int VERSION = 1;
    private static final int NONCE = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    private PeerHandshake() {
    }

    /** Why a handshake failed (the message says what did not match). */
    static final class Rejected extends IOException {
        private static final long serialVersionUID = 1L;

        Rejected(String message) {
            super(message);
        }
    }

    /** A new random job secret (32 bytes), made by the driver and shipped with the tasks. */
    static byte[] newSecret() {
        byte[] s = new byte[32];
        RANDOM.nextBytes(s);
        return s;
    }

    /**
     * The connector's side.
     *
     * @return nothing; throws when the acceptor is not of this job, or is not the expected rank
     */
    static void connect(DataInputStream in, DataOutputStream out, byte[] secret, int rank, int expectedPeer, int attempt,
                        long fingerprint) throws IOException {
        byte[] c = nonce();
        out.writeInt(MAGIC);
        out.writeInt(VERSION);
        out.writeInt(rank);
        out.writeInt(attempt);
        out.write(c);
        out.flush();
        byte[] a = new byte[NONCE];
        in.readFully(a);
        int peer = in.readInt();
        byte[] mac = new byte[32];
        in.readFully(mac);
        if (peer != expectedPeer || !MessageDigest.isEqual(mac, mac(secret, "accept", c, a, peer, rank, attempt))) {
            throw new Rejected("the peer at this address is not rank " + expectedPeer + " of this job (attempt " + attempt + ")");
        }
        out.write(mac(secret, "connect", a, c, peer, rank, attempt));
        out.writeLong(fingerprint);
        out.flush();
        if (in.readInt() != MAGIC) {
            throw new Rejected("rank " + expectedPeer + " refused this replica (different model, codec or frame size)");
        }
    }

    /**
     * The acceptor's side.
     *
     * @param attempt the job attempt the peer must be of, or −1 for any
     * @return the authenticated peer's rank
     * @throws Rejected when the peer has no valid credentials, is of another attempt, or its
     *                  parameters or codec differ
     */
    static int accept(DataInputStream in, DataOutputStream out, byte[] secret, int rank, int attempt, long fingerprint)
            throws IOException {
        if (in.readInt() != MAGIC) {
            throw new Rejected("not an fp4 replica (bad magic number)");
        }
        int version = in.readInt();
        if (version != VERSION) {
            throw new Rejected("protocol version " + version + ", this replica speaks " + VERSION);
        }
        int peer = in.readInt();
        int theirAttempt = in.readInt();
        byte[] c = new byte[NONCE];
        in.readFully(c);
        byte[] a = nonce();
        out.write(a);
        out.writeInt(rank);
        out.write(mac(secret, "accept", c, a, rank, peer, theirAttempt));
        out.flush();
        byte[] mac = new byte[32];
        in.readFully(mac);
        long theirs = in.readLong();
        if (!MessageDigest.isEqual(mac, mac(secret, "connect", a, c, rank, peer, theirAttempt))) {
            throw new Rejected("wrong job credentials (claimed rank " + peer + ")");
        }
        if (attempt >= 0 && theirAttempt != attempt) {
            throw new Rejected("rank " + peer + " is of attempt " + theirAttempt + ", this replica of attempt " + attempt);
        }
        if (theirs != fingerprint) {
            out.writeInt(0);
            out.flush();
            throw new Rejected("rank " + peer + " has different parameters, codec or frame size (fingerprint "
                    + Long.toHexString(theirs) + ", here " + Long.toHexString(fingerprint) + ")");
        }
        out.writeInt(MAGIC);
        out.flush();
        return peer;
    }

    private static byte[] nonce() {
        byte[] n = new byte[NONCE];
        RANDOM.nextBytes(n);
        return n;
    }

    private static byte[] mac(byte[] secret, String role, byte[] first, byte[] second, int acceptor, int connector, int attempt) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(secret, "HmacSHA256"));
            m.update(role.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            m.update(first);
            m.update(second);
            m.update(ByteBuffer.allocate(12).putInt(acceptor).putInt(connector).putInt(attempt).array());
            return m.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }
}
