package dev.fp4.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.data.Tokenizer;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;
import dev.fp4.spark.comm.GradientCodec;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training on a real Spark context ({@code local[2,2]}: two task threads, a task may
 * fail once): bit-identical to single-process accumulation, compressed gradients, a task failure
 * survived, strangers refused.
 */
class SparkTrainerTest {
    static final String RECIPE = "fp4-dge-occ";
    static final LlamaConfig MODEL = LlamaConfig.tiny();
    static final MarkovCorpus CORPUS = MarkovCorpus.generate(MarkovCorpus.Spec.defaults());
    static final int BYTES = 200_000;
    static final TextDataset DATA = CORPUS.dataset(BYTES, 9);
    /** Per worker: batch 4 of 32 tokens, 30 steps, validation every 10 steps over 4 batches. */
    static final TrainingConfig CFG = TrainingConfig.defaults().withSteps(30).withBatch(4, 32).withIntervals(10, 4, 0).withSeed(21);

    static JavaSparkContext sc;
    private static TrainingResult reference;
    private static List<Parameter> referenceParameters;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        sc = new JavaSparkContext(conf("local[2,2]"));
        reference();
    }

    /** The single process: batch 4, two micro-batches per step (computed once). */
    static synchronized TrainingResult reference() {
        if (reference == null) {
            LlamaTrainable m = LlamaTrainable.create("tiny", RECIPE, CFG.seed());
            reference = new Trainer(m, DATA, CFG.withLr(CFG.peakLr(), 2), null).run();
            assertEquals(TrainingResult.Status.COMPLETED, reference.status(), reference.message());
            referenceParameters = m.parameters();
        }
        return reference;
    }

    static SparkConf conf(String master) {
        return new SparkConf().setMaster(master).setAppName("fp4-spark-test").set("spark.ui.enabled", "false")
                .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.barrier.sync.timeout", "300s");
    }

    @AfterAll
    static void stop() {
        if (sc != null) {
            sc.stop();
        }
    }

    static SparkTrainingData data() {
        return SparkTrainingData.of(DATA.name(), CORPUS.sample(BYTES, 9));
    }

    static double[] losses(TrainingResult r) {
        return r.records().stream().mapToDouble(StepRecord::trainLoss).toArray();
    }

    static double[] valLosses(TrainingResult r) {
        return r.records().stream().filter(StepRecord::evaluated).mapToDouble(StepRecord::valLoss).toArray();
    }

    @Test
    void twoWorkersEqualSingleProcessAccumulationBitForBit() throws IOException {
        SparkTrainingOptions opts = SparkTrainingOptions.workers(2).withThreads(1).withCheckpoints(dir.toString(), 2).withFrameBytes(4096);
        SparkTrainingResult r = SparkTrainer.fit(sc, data(), MODEL, RECIPE, CFG, opts, new SparkTrainingListener() {
        });
        assertEquals(TrainingResult.Status.COMPLETED, r.training().status(), r.training().message());
        assertEquals(30, r.training().records().size());
        assertArrayEquals(losses(reference), losses(r.training()));
        assertArrayEquals(valLosses(reference), valLosses(r.training()));
        assertEquals(1, r.attempts());
        assertEquals(30, r.computeSeconds().size());
        assertTrue(r.bytesPerStep() > 0);
        // rank 0's final checkpoint holds the single process's parameters, and fp4 train could resume it
        Checkpoint c = Checkpoint.read(r.training().lastCheckpoint());
        assertEquals(30, c.step());
        assertEquals("2", c.config().get("train.accumulation"));
        List<Parameter> mine = LlamaTrainable.create("tiny", RECIPE, 1).parameters();
        c.restoreParameters(mine);
        for (int i = 0; i < mine.size(); i++) {
            assertArrayEquals(referenceParameters.get(i).data(), mine.get(i).data(), mine.get(i).name());
        }
    }

    /** GPT-2's BPE: every worker tokenizes the broadcast text; the run equals single-process accumulation on those tokens. */
    @Test
    void gpt2TokensTrainAsInOneProcess() throws IOException {
        Tokenizer gpt2 = Tokenizer.byName("gpt2");
        LlamaConfig model = MODEL.with(gpt2.vocabSize(), null, null, null, null, null, null);
        byte[] text = CORPUS.sample(40_000, 5);
        TrainingConfig cfg = CFG.withSteps(6).withIntervals(3, 2, 0);
        LlamaTrainable one = new LlamaTrainable(new LlamaModel(model, PrecisionRecipe.byName(RECIPE), cfg.seed()));
        TrainingResult want = new Trainer(one, TextDataset.fromTokens("text", gpt2.encode(text), gpt2), cfg.withLr(cfg.peakLr(), 2), null).run();
        assertEquals(TrainingResult.Status.COMPLETED, want.status(), want.message());
        SparkTrainingOptions opts = SparkTrainingOptions.workers(2).withThreads(1).withCheckpoints(dir.toString(), 1);
        SparkTrainingResult r = SparkTrainer.fit(sc, SparkTrainingData.of("text", text).withTokenizer("gpt2"), model, RECIPE, cfg, opts,
                new SparkTrainingListener() {
                });
        assertEquals(TrainingResult.Status.COMPLETED, r.training().status(), r.training().message());
        assertArrayEquals(losses(want), losses(r.training()));
        assertArrayEquals(valLosses(want), valLosses(r.training()));
        assertEquals("gpt2", Checkpoint.read(r.training().lastCheckpoint()).extra().get("tokenizer"));
        // a byte-level model cannot hold GPT-2's ids
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkTrainer.fit(sc,
                SparkTrainingData.of("text", text).withTokenizer("gpt2"), MODEL, RECIPE, cfg, opts, new SparkTrainingListener() {
                }));
        assertEquals("the model's vocabulary 256 is smaller than tokenizer gpt2's 50257", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SparkTrainingData.of("text", text).withTokenizer("sentencepiece"));
    }

    @Test
    void aTaskThatDiesIsRerunFromTheNewestCheckpointWithTheSameLosses() {
        SparkTrainingOptions opts = SparkTrainingOptions.workers(2).withThreads(1).withCheckpoints(dir.toString(), 2)
                .withFault(new SparkTrainingOptions.FaultInjection(1, 12));
        TrainingConfig cfg = CFG.withIntervals(10, 4, 5);
        SparkTrainingResult r = SparkTrainer.fit(sc, data(), MODEL, RECIPE, cfg, opts, new SparkTrainingListener() {
        });
        assertEquals(TrainingResult.Status.COMPLETED, r.training().status(), r.training().message());
        assertEquals(2, r.attempts());
        assertEquals(10, r.resumedFrom());
        assertArrayEquals(losses(reference), losses(r.training()));
        assertArrayEquals(valLosses(reference), valLosses(r.training()));
    }

    @Test
    void aRunTheGuardStopsStopsOnEveryReplicaAtTheSingleProcessStep() {
        TrainingConfig wild = TrainingConfig.defaults().withSteps(40).withBatch(4, 32).withIntervals(10, 2, 0).withSeed(21)
                .withLr(30, 1);
        TrainingResult single = new Trainer(LlamaTrainable.create("tiny", "fp32", wild.seed()), DATA, wild.withLr(30, 2), null).run();
        assertTrue(single.status() == TrainingResult.Status.DIVERGED || single.status() == TrainingResult.Status.NON_FINITE,
                single.message());
        SparkTrainingResult r = SparkTrainer.fit(sc, data(), MODEL, "fp32", wild, SparkTrainingOptions.workers(2).withThreads(1),
                new SparkTrainingListener() {
                });
        assertEquals(single.status(), r.training().status(), r.training().message());
        assertEquals(single.stepsCompleted(), r.training().stepsCompleted());
        assertEquals(single.message(), r.training().message());
        assertArrayEquals(losses(single), losses(r.training()));
    }

    @Test
    void compressedGradientsTrainAsFarAsFp32() {
        TrainingConfig cfg = CFG.withSteps(60);
        double fp32 = Double.NaN;
        for (GradientCodec codec : GradientCodec.values()) {
            SparkTrainingOptions opts = SparkTrainingOptions.workers(2).withThreads(1).withGradComm(codec);
            SparkTrainingResult r = SparkTrainer.fit(sc, data(), MODEL, RECIPE, cfg, opts, new SparkTrainingListener() {
            });
            assertEquals(TrainingResult.Status.COMPLETED, r.training().status(), r.training().message());
            double[] val = valLosses(r.training());
            double last = val[val.length - 1];
            if (codec == GradientCodec.FP32) {
                fp32 = last;
            } else {
                assertTrue(Math.abs(last - fp32) <= 0.02 * fp32, codec + ": validation loss " + last + " vs fp32 " + fp32);
            }
            assertTrue(last < 4.0, codec + " learned: " + last);
        }
    }

    @Test
    void connectionsWithoutTheJobSecretAreRefusedAndChangeNothing() {
        // long enough that the replicas are still running when the strangers knock
        TrainingConfig cfg = CFG.withSteps(200).withIntervals(100, 2, 0);
        TrainingResult single = new Trainer(LlamaTrainable.create("tiny", RECIPE, cfg.seed()), DATA, cfg.withLr(cfg.peakLr(), 2), null).run();
        AtomicInteger strangers = new AtomicInteger();
        SparkTrainingOptions opts = SparkTrainingOptions.workers(2).withThreads(1);
        SparkTrainingResult r = SparkTrainer.fit(sc, data(), MODEL, RECIPE, cfg, opts, new SparkTrainingListener() {
            @Override
            public void onAttempt(int attempt, List<String> addresses) {
                for (String a : addresses) {
                    strangers.addAndGet(Strangers.knock(a));
                }
            }
        });
        assertEquals(4, strangers.get(), "two strangers knocked at each replica");
        assertEquals(4, r.rejectedConnections());
        assertEquals(TrainingResult.Status.COMPLETED, r.training().status(), r.training().message());
        assertArrayEquals(losses(single), losses(r.training()));
    }

    /** Clients that do not have the job's secret. */
    static final class Strangers {
        /** Knocks twice at host:port (garbage; the protocol's opening with a wrong MAC); returns the knocks made. */
        static int knock(String hostPort) {
            String host = hostPort.substring(0, hostPort.lastIndexOf(':'));
            int port = Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
            int knocks = 0;
            try (Socket s = new Socket(host, port)) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(new byte[64]);
                assertEquals(-1, s.getInputStream().read(), "closed on garbage");
                knocks++;
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            try (Socket s = new Socket(host, port)) {
                s.setSoTimeout(10_000);
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                DataInputStream in = new DataInputStream(s.getInputStream());
                out.writeInt(0x46503453);
                out.writeInt(1);
                out.writeInt(1);
                out.writeInt(0);
                out.write(new byte[16]);
                out.flush();
                in.readFully(new byte[16 + 4 + 32]);           // the replica's nonce, rank and MAC
                out.write(new byte[32 + 8]);                   // a MAC made without the secret, a fingerprint
                out.writeByte(1);                              // and a frame that must never be applied
                out.writeInt(0);
                out.flush();
                assertEquals(-1, in.read(), "closed on a wrong MAC");
                knocks++;
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            return knocks;
        }
    }
}
