package dev.fp4.bench.cli;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.DType;
import dev.fp4.nn.hf.HfLlama;
import dev.fp4.nn.checkpoint.Fp4Entry;
import dev.fp4.nn.checkpoint.SafeTensors;
import dev.fp4.nn.checkpoint.TensorData;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fp4 export}: a checkpoint's weights for other tools. {@code --format hf}: a Hugging Face
 * LlamaForCausalLM directory ({@link HfLlama}). {@code --format fp4}: one safetensors file with the
 * transformer blocks' linear weights in FP4 ({@link Fp4Entry}: packed U8 codes, F32 block scales,
 * F32 tensor scale), every other parameter in F32.
 */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes the weights of a checkpoint (from 'fp4 train'). --format hf: a Hugging Face LlamaForCausalLM "
                + "directory (config.json, model.safetensors under transformers' names, F32 or BF16) that transformers loads and "
                + "'fp4 train --init-from' reads back. --format fp4: one safetensors file with the linear weights [out, in] of every "
                + "transformer block quantized to FP4 E2M1 (packed U8 codes, element 0 in the low nibble, with F32 block scales "
                + "and tensor scale; see docs/training.md), every other parameter as F32. Optimizer state is not exported."})
final class ExportCommand implements Callable<Integer> {
    /** The --scheme values. */
    static final Map<String, Fp4Scheme> SCHEMES = schemes();

    /** Last name component of the linear weights that are exported in FP4. */
    private static final Set<String> LINEAR = Set.of("wq", "wk", "wv", "wo", "w1", "w2", "w3");

    private final Cli root;

    @Parameters(index = "0", arity = "0..1", paramLabel = "CHECKPOINT", description = "A checkpoint file, or a directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--checkpoint", paramLabel = "PATH", description = "The same as CHECKPOINT.")
    Path checkpointOption;

    @Option(names = "--out", paramLabel = "PATH", required = true,
            description = "--format fp4: the safetensors file to write; --format hf: the directory (files written atomically).")
    Path out;

    @Option(names = "--format", paramLabel = "F", description = "fp4 or hf. Default: ${DEFAULT-VALUE}.")
    String format = "fp4";

    @Option(names = "--dtype", paramLabel = "T", description = "With --format hf: f32 (exact) or bf16. Default: ${DEFAULT-VALUE}.")
    String dtype = "f32";

    @Option(names = "--scheme", paramLabel = "NAME", defaultValue = "per-row",
            description = "FP4 scaling of the weights: per-row (per output channel, as fp4-dge-occ), per-tensor, mxfp4,"
                    + " nvfp4 or nvfp4-2d. Default: ${DEFAULT-VALUE}.")
    String scheme;

    ExportCommand(Cli root) {
        this.root = root;
    }

    private static Map<String, Fp4Scheme> schemes() {
        Map<String, Fp4Scheme> m = new LinkedHashMap<>();
        m.put("per-row", Fp4Scheme.perRow());
        m.put("per-tensor", Fp4Scheme.perTensor());
        m.put("mxfp4", Fp4Scheme.mxfp4());
        m.put("nvfp4", Fp4Scheme.nvfp4());
        m.put("nvfp4-2d", Fp4Scheme.nvfp4_2d());
        return m;
    }

    @Override
    public Integer call() throws Exception {
        if ((checkpoint == null) == (checkpointOption == null)) {
            throw new Cli.UsageException("give the checkpoint once: as CHECKPOINT or as --checkpoint PATH", null);
        }
        if (!format.equals("fp4") && !format.equals("hf")) {
            throw new Cli.UsageException("--format must be fp4 or hf, got " + format, null);
        }
        if (!dtype.equals("f32") && !dtype.equals("bf16")) {
            throw new Cli.UsageException("--dtype must be f32 or bf16, got " + dtype, null);
        }
        Fp4Scheme s = SCHEMES.get(scheme);
        if (s == null) {
            throw new Cli.UsageException("unknown --scheme \"" + scheme + "\"; valid: " + String.join(", ", SCHEMES.keySet()), null);
        }
        TrainedModel tm = TrainedModel.load(checkpoint != null ? checkpoint : checkpointOption);
        if (format.equals("hf")) {
            return exportHf(tm);
        }
        Checkpoint c = tm.checkpoint();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("fp4.kind", "weights");
        meta.put("fp4.recipe", c.recipe());
        meta.put("fp4.step", Long.toString(c.step()));
        int fp4 = 0;
        long fp4Bytes = 0;
        double sq = 0;
        double err = 0;
        for (Map.Entry<String, TensorData> p : c.parameters().entrySet()) {
            String name = p.getKey();
            TensorData t = p.getValue();
            if (t.shape().length == 2 && LINEAR.contains(name.substring(name.lastIndexOf('.') + 1))) {
                int[] shape = t.intShape();
                float[] w = t.toFloats();
                Fp4Entry e = Fp4Entry.of(Fp4Tensor.quantize(w, shape[0], shape[1], s));
                e.putInto(tensors, meta, name);
                float[] back = e.dequantize();
                for (int i = 0; i < w.length; i++) {
                    sq += (double) w[i] * w[i];
                    err += ((double) back[i] - w[i]) * ((double) back[i] - w[i]);
                }
                fp4++;
                fp4Bytes += e.packed().length + 4L * e.scales().length + 4;
            } else {
                tensors.put(name, t);
            }
        }
        SafeTensors.write(out, tensors, meta);
        root.out.println(String.format(Locale.ROOT,
                "wrote %s: %d linear weights in FP4 (%s, %,d bytes, relative RMS error %.4f), %d tensors in F32, step %d of recipe %s",
                out, fp4, scheme, fp4Bytes, fp4 == 0 ? 0.0 : Math.sqrt(err / sq), tensors.size() - 3 * fp4, c.step(), c.recipe()));
        return 0;
    }

    private int exportHf(TrainedModel tm) throws java.io.IOException {
        DType d = dtype.equals("bf16") ? DType.BF16 : DType.F32;
        HfLlama.export(out, tm.config(), tm.checkpoint().parameters(), d, tm.tokenizer().name());
        root.out.println(String.format(Locale.ROOT, "wrote %s: config.json and model.safetensors (LlamaForCausalLM, %s, %,d parameters) from %s",
                out, dtype, tm.config().parameterCount(), tm.describe()));
        return 0;
    }

    /** For tests: the scheme names. */
    static List<String> schemeNames() {
        return List.copyOf(SCHEMES.keySet());
    }
}
