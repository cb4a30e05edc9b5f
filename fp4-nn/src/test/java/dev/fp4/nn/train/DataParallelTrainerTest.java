package dev.fp4.nn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fp4.nn.Parameter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Trainer's side of data parallelism, with replicas as threads of one JVM and a plain
 * in-memory group (the TCP all-reduce of fp4-spark is tested there): N replicas of one micro-batch
 * each give the single process's {@code accumulation = N} run bit for bit, stochastic rounding
 * included.
 */
class DataParallelTrainerTest {
    static final TrainingConfig CFG = LlamaTrainerTest.CFG.withSteps(5).withIntervals(2, 3, 0);

    @ParameterizedTest
    @CsvSource({"fp32, 2", "fp4-dge-occ, 2", "nvfp4, 3"})
    void replicasEqualSingleProcessAccumulation(String recipe, int replicas) throws Exception {
        TrainingConfig cfg = CFG.withLr(CFG.peakLr(), replicas);
        LlamaTrainable single = LlamaTrainable.create("tiny", recipe, 11);
        Trainer singleTrainer = new Trainer(single, LlamaTrainerTest.DATA, cfg, null);
        TrainingResult expected = singleTrainer.run();
        assertEquals(TrainingResult.Status.COMPLETED, expected.status(), expected.message());
        WindowLosses expectedFinal = singleTrainer.finalValidation();

        List<LlamaTrainable> models = new ArrayList<>();
        List<Future<TrainingResult>> results = new ArrayList<>();
        List<Trainer> trainers = new ArrayList<>();
        MemoryGroup.Shared shared = new MemoryGroup.Shared(replicas);
        ExecutorService pool = Executors.newFixedThreadPool(replicas);
        try {
            for (int r = 0; r < replicas; r++) {
                LlamaTrainable m = LlamaTrainable.create("tiny", recipe, 11);
                models.add(m);
                Trainer t = new Trainer(m, LlamaTrainerTest.DATA, cfg, null, new MemoryGroup(shared, r));
                trainers.add(t);
                results.add(pool.submit(() -> t.run()));
            }
            for (int r = 0; r < replicas; r++) {
                TrainingResult got = results.get(r).get(5, TimeUnit.MINUTES);
                assertArrayEquals(TrainerTest.losses(expected), TrainerTest.losses(got), "rank " + r);
                assertArrayEquals(valLosses(expected), valLosses(got), "rank " + r);
                // the whole-split evaluation at the end: the replicas share its batches, each gets every window
                WindowLosses full = trainers.get(r).finalValidation();
                assertArrayEquals(expectedFinal.losses(), full.losses(), "rank " + r + " final validation");
                assertArrayEquals(expectedFinal.lengths(), full.lengths(), "rank " + r + " final validation");
                List<Parameter> want = single.parameters();
                List<Parameter> have = models.get(r).parameters();
                for (int i = 0; i < want.size(); i++) {
                    assertArrayEquals(want.get(i).data(), have.get(i).data(), "rank " + r + " " + want.get(i).name());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @CsvSource({"3, 2", "4, 3"})
    void accumulationMustBeAMultipleOfTheReplicas(int accum, int replicas) {
        MemoryGroup.Shared shared = new MemoryGroup.Shared(replicas);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Trainer(LlamaTrainable.create("tiny", "fp32", 1),
                LlamaTrainerTest.DATA, CFG.withLr(CFG.peakLr(), accum), null, new MemoryGroup(shared, 0)));
        assertEquals("accumulation " + accum + " is not a multiple of the " + replicas + " replicas", e.getMessage());
    }

    static double[] valLosses(TrainingResult r) {
        return r.records().stream().filter(StepRecord::evaluated).mapToDouble(StepRecord::valLoss).toArray();
    }

    /** Replicas as threads: sums in rank order behind barriers. */
    static final class MemoryGroup implements ReplicaGroup {
        static final class Shared {
            final int size;
            final CyclicBarrier barrier;
            final List<List<Parameter>> params = new ArrayList<>();
            final double[][] gathered;

            Shared(int size) {
                this.size = size;
                this.barrier = new CyclicBarrier(size);
                this.gathered = new double[size][];
                for (int r = 0; r < size; r++) {
                    params.add(null);
                }
            }

            void await() {
                try {
                    barrier.await(2, TimeUnit.MINUTES);
                } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                    throw new IllegalStateException(e);
                }
            }
        }

        private final Shared shared;
        private final int rank;

        MemoryGroup(Shared shared, int rank) {
            this.shared = shared;
            this.rank = rank;
        }

        @Override
        public int rank() {
            return rank;
        }

        @Override
        public int size() {
            return shared.size;
        }

        @Override
        public void reduce(Parameter p) {
        }

        @Override
        public void awaitReductions(List<Parameter> all) {
            shared.params.set(rank, all);
            shared.await();
            if (rank == 0) {
                for (int i = 0; i < all.size(); i++) {
                    float[] sum = all.get(i).grad().clone();
                    for (int r = 1; r < shared.size; r++) {
                        float[] g = shared.params.get(r).get(i).grad();
                        for (int k = 0; k < sum.length; k++) {
                            sum[k] += g[k];
                        }
                    }
                    for (int r = 0; r < shared.size; r++) {
                        System.arraycopy(sum, 0, shared.params.get(r).get(i).grad(), 0, sum.length);
                    }
                }
            }
            shared.await();
        }

        @Override
        public double[][] allGather(double[] values) {
            shared.gathered[rank] = values.clone();
            shared.await();
            double[][] out = new double[shared.size][];
            for (int r = 0; r < shared.size; r++) {
                out[r] = shared.gathered[r].clone();
            }
            shared.await();
            return out;
        }
    }
}
