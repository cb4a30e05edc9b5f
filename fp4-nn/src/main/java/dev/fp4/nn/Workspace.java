package dev.fp4.nn;

/**
 * Scratch buffers the blocks share (only one block runs at a time), grown on demand and then
 * reused, so steps of the same (or smaller) shape allocate nothing. The backward's gradients, and
 * two forward buffers whose contents no backward reads: {@link #xn} and {@link #h}.
 */
final class Workspace {
    /**
     * Forward: an RMSNorm's output [n, dim], the input of the linear layers after it, which keep
     * what their backward needs in their own form (a copy, or X̂ packed); the norm's backward reads
     * its input instead.
     */
    float[] xn = new float[0];
    /** Forward: the SwiGLU product [n, ffnDim], the down projection's input (kept by it likewise). */
    float[] h = new float[0];
    float[] dxn = new float[0];
    float[] dq = new float[0];
    float[] dk = new float[0];
    float[] dv = new float[0];
    float[] datt = new float[0];
    float[] dg = new float[0];
    float[] du = new float[0];
    float[] dh = new float[0];
    float[] tmp = new float[0];

    /** {@code w} (a new workspace when null), sized for (batch, seq). */
    static Workspace ensure(Workspace w, LlamaConfig c, int batch, int seq) {
        Workspace ws = w != null ? w : new Workspace();
        ws.ensure(c, batch, seq);
        return ws;
    }

    void ensure(LlamaConfig c, int batch, int seq) {
        long n = (long) batch * seq;                    // every size in long: the guard in grow sees it
        xn = grow(xn, n * c.dim());
        h = grow(h, n * c.ffnDim());
        dxn = grow(dxn, n * c.dim());
        dq = grow(dq, n * c.dim());
        dk = grow(dk, n * c.kvDim());
        dv = grow(dv, n * c.kvDim());
        datt = grow(datt, n * c.dim());
        dg = grow(dg, n * c.ffnDim());
        du = grow(du, n * c.ffnDim());
        dh = grow(dh, n * c.ffnDim());
        tmp = grow(tmp, n * Math.max(c.dim(), c.ffnDim()));
    }

    /** The largest buffer: the largest Java array. */
    static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    /**
     * {@code a} when it holds at least n elements, else a new array of n.
     *
     * @throws CapacityException when n exceeds {@link #MAX_ELEMENTS} (naming n)
     */
    static float[] grow(float[] a, long n) {
        if (n > MAX_ELEMENTS) {
            throw new CapacityException("buffer of " + n + " floats is too large for one array (at most " + MAX_ELEMENTS + ")");
        }
        return a.length >= n ? a : new float[(int) n];
    }
}
