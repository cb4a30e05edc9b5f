package dev.fp4.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Fp4Gemm;
import dev.fp4.core.quant.DifferentiableGradientEstimator;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.quant.Fp8Format;
import dev.fp4.core.quant.Fp8Quantizer;
import dev.fp4.core.quant.GradientEstimator;
import dev.fp4.core.quant.OutlierClamp;
import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.core.quant.Rounding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Thread safety: 4 threads run the GeMM and the quantizers at the same time, each on its own data
 * (and, for the shared immutable objects — schemes, roundings, the Hadamard transform, the DGE, a
 * quantized tensor being decoded — on one shared instance), released together by a barrier and
 * repeated over several rounds. Every result must equal, bit for bit, the one computed on a
 * single thread beforehand. Objects documented as not thread-safe ({@link OutlierClamp} with its
 * scratch buffers, a {@link Fp4Tensor} being re-quantized, a CsrMatrix being built) are used one per
 * thread, as their Javadoc requires.
 */
@Timeout(120) // hang guard only (a deadlock would otherwise stall the build); no timing is asserted
class ConcurrencyTest {

    static final int THREADS = 4;
    static final int ROUNDS = 6;

    /** One unit of work: computes a result from the thread's own inputs. */
    interface Job {
        float[] run();
    }

    static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static float[] bytesAsFloats(byte[] b) {
        float[] f = new float[b.length];
        for (int i = 0; i < b.length; i++) {
            f[i] = b[i];
        }
        return f;
    }

    /** The jobs of thread {@code t}: each reads only its inputs and the shared immutable objects. */
    static List<Job> jobs(int t, RandomHadamard hadamard, GradientEstimator dge, Fp4Tensor shared) {
        SplittableRandom r = new SplittableRandom(1000 + t);
        int m = 33 + t;
        int n = 47;
        int k = 64 + 32 * t;
        float[] a = gaussian(r, m * k);
        float[] b = gaussian(r, n * k);
        float[] x = Floats.matrix(r, 24, 96);
        List<Job> jobs = new ArrayList<>();
        jobs.add(() -> {
            float[] c = new float[m * n];
            FloatGemm.matmulNT(a, 0, b, 0, c, 0, m, n, k, false);
            float[] c2 = new float[m * k];
            FloatGemm.matmulNN(c, 0, b, 0, c2, 0, m, k, n, false);
            float[] c3 = new float[n * k];
            FloatGemm.matmulTN(c, 0, a, 0, c3, 0, n, k, m, false);
            return concat(c, c2, c3);
        });
        jobs.add(() -> {
            Fp4Tensor qa = Fp4Tensor.quantize(a, m, k, Fp4Scheme.perRow());
            Fp4Tensor qb = Fp4Tensor.quantize(b, n, k, Fp4Scheme.mxfp4());
            float[] c = new float[m * n];
            Fp4Gemm.matmulNT(qa, qb, c, 0, false);
            float[] c2 = new float[m * n];
            Fp4Gemm.matmulNT(a, 0, m, qb, c2, 0, false);
            return concat(c, c2);
        });
        for (Fp4Scheme s : List.of(Fp4Scheme.perRow(), Fp4Scheme.perColumn(), Fp4Scheme.mxfp4(), Fp4Scheme.nvfp4(),
                Fp4Scheme.nvfp4_2d(), Fp4Scheme.perRow().withRounding(Rounding.stochastic(3)))) {
            jobs.add(() -> {
                Fp4Tensor q = Fp4Tensor.quantize(x, 24, 96, s);
                float[] fq = x.clone();
                Fp4Tensor.fakeQuantize(fq, 0, 24, 96, s, 17);
                return concat(q.dequantize(), q.scales(), bytesAsFloats(q.packed()), fq);
            });
        }
        jobs.add(() -> {
            float[] e4 = a.clone();
            float s4 = Fp8Quantizer.fakeQuantize(e4, 0, e4.length, Fp8Format.E4M3);
            float[] e5 = b.clone();
            float[] s5 = Fp8Quantizer.fakeQuantizeRows(e5, 0, n, k, Fp8Format.E5M2);
            return concat(e4, new float[] {s4}, e5, s5);
        });
        jobs.add(() -> {
            float[] h = a.clone();
            hadamard.forward(h, 0, m, k);
            float[] g = b.clone();
            dge.applyTo(g, 0, x, 0, Math.min(g.length, x.length));
            return concat(h, g);
        });
        jobs.add(() -> {
            OutlierClamp clamp = new OutlierClamp();                   // one per thread: it keeps scratch
            float[] out = new float[x.length];
            int count = clamp.clamp(x, 0, 24, 96, out, 0, null);
            return concat(out, new float[] {count});
        });
        jobs.add(() -> {
            float[] row = new float[shared.cols()];
            float[] all = new float[shared.rows() * shared.cols()];
            for (int rr = 0; rr < shared.rows(); rr++) {
                shared.decodeRow(rr, 0, shared.cols(), row, 0, true);
                System.arraycopy(row, 0, all, rr * shared.cols(), row.length);
            }
            return all;
        });
        return jobs;
    }

    @Test
    void concurrentCallersGetTheSingleThreadedResultsBitForBit() throws Exception {
        RandomHadamard hadamard = new RandomHadamard(32, 5);
        GradientEstimator dge = new DifferentiableGradientEstimator();
        Fp4Tensor shared = Fp4Tensor.quantize(Floats.matrix(new SplittableRandom(9), 16, 64), 16, 64, Fp4Scheme.nvfp4());
        List<List<Job>> perThread = new ArrayList<>();
        List<List<float[]>> expected = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            List<Job> js = jobs(t, hadamard, dge, shared);
            perThread.add(js);
            List<float[]> res = new ArrayList<>();
            for (Job j : js) {
                res.add(j.run());
            }
            expected.add(res);
        }
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            CyclicBarrier start = new CyclicBarrier(THREADS);
            int compared = 0;
            for (int round = 0; round < ROUNDS; round++) {
                List<Future<List<float[]>>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    List<Job> js = perThread.get(t);
                    int offset = round;                               // rotate the job order per round to vary the overlap
                    futures.add(pool.submit(() -> {
                        start.await(30, TimeUnit.SECONDS);
                        float[][] out = new float[js.size()][];
                        for (int i = 0; i < js.size(); i++) {
                            int j = (i + offset) % js.size();
                            out[j] = js.get(j).run();
                        }
                        return Arrays.asList(out);
                    }));
                }
                for (int t = 0; t < THREADS; t++) {
                    List<float[]> got = futures.get(t).get(60, TimeUnit.SECONDS);
                    for (int j = 0; j < got.size(); j++) {
                        float[] e = expected.get(t).get(j);
                        float[] g = got.get(j);
                        assertEquals(e.length, g.length);
                        for (int i = 0; i < e.length; i++) {
                            if (Float.floatToRawIntBits(e[i]) != Float.floatToRawIntBits(g[i])) {
                                throw new AssertionError("thread " + t + ", job " + j + ", round " + round + ": element " + i
                                        + " is " + g[i] + " concurrently but " + e[i] + " on one thread");
                            }
                        }
                        compared++;
                    }
                }
            }
            System.out.println("PROPERTY concurrent results equal single-threaded tries=" + compared);
        } finally {
            pool.shutdownNow();
        }
    }
}
