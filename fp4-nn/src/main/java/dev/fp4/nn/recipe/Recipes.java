package dev.fp4.nn.recipe;

import dev.fp4.core.quant.DifferentiableGradientEstimator;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.OutlierClamp;
import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.core.quant.Rounding;
import dev.fp4.core.quant.ScaleRule;

/**
 * The built-in precision recipes ({@link PrecisionRecipe#byName(String)} returns them by name) and
 * factories for their parameterised variants. docs/recipes.md has the same table.
 *
 * <p>Operand notation: a GeMM is written "a x b" in the layout of {@link GemmPrecision} (both
 * operands [·, K]): forward X x W, data gradient dY x Ŵᵀ, weight gradient dYᵀ x X̂ᵀ. FP4 row
 * scales therefore mean per token for activations and per output channel for weights in the
 * forward GeMM, and blocks of 1×16 or 1×32 run along the reduction dimension.
 *
 * <table>
 *   <caption>Built-in recipes (linear layers in the transformer blocks)</caption>
 *   <tr><th>name</th><th>forward</th><th>data gradient</th><th>weight gradient</th><th>estimator / extras</th></tr>
 *   <tr><td>{@code fp32}</td><td>fp32</td><td>fp32</td><td>fp32</td><td>STE</td></tr>
 *   <tr><td>{@code bf16}</td><td>bf16 x bf16</td><td>bf16 x bf16</td><td>bf16 x bf16</td><td>STE</td></tr>
 *   <tr><td>{@code fp8}</td><td>e4m3 x e4m3</td><td>e5m2 x e4m3</td><td>e5m2 x e4m3</td><td>STE; per-tensor scales</td></tr>
 *   <tr><td>{@code fp4-direct}</td><td>fp4 per row x fp4 per row</td><td>e4m3 x e4m3</td><td>e4m3 x e4m3</td><td>STE</td></tr>
 *   <tr><td>{@code fp4-dge-occ}</td><td>fp4 per row x fp4 per row</td><td>e4m3 x e4m3</td><td>e4m3 x e4m3</td>
 *       <td>DGE k=5; clamp α=0.99 per tensor with FP32 compensation</td></tr>
 *   <tr><td>{@code fp4-dge-occ-official}</td><td>fp4 per row x fp4 per column (HALF_UP, BF16-step scales)</td>
 *       <td>e4m3 x e4m3</td><td>e4m3 x e4m3</td><td>DGE k=5; clamp α=0.99 per token, no compensation</td></tr>
 *   <tr><td>{@code fp4-modulewise}</td><td>FFN: fp4 1×32 blocks; attention: e4m3 x e4m3</td><td>e4m3 x e4m3</td>
 *       <td>e4m3 x e4m3</td><td>STE; last 10% of steps in {@code bf16}</td></tr>
 *   <tr><td>{@code nvfp4}</td><td>nvfp4 1×16 x nvfp4 16×16</td><td>nvfp4 1×16 SR x nvfp4 16×16</td>
 *       <td>nvfp4 1×16 SR x nvfp4 1×16 (X from the input), random Hadamard 16</td>
 *       <td>STE; last ⌈15%⌉ of the blocks (from 4) in BF16</td></tr>
 *   <tr><td>{@code nvfp4-4over6}</td><td colspan="3">as {@code nvfp4}, every operand with Four Over Six's block scales</td>
 *       <td>as {@code nvfp4}</td></tr>
 *   <tr><td>{@code mxfp4}</td><td>mxfp4 x mxfp4</td><td>mxfp4 SR x mxfp4</td><td>mxfp4 SR x mxfp4</td><td>STE</td></tr>
 *   <tr><td>{@code mxfp4-nvidia}</td><td>mxfp4 (scales up) x mxfp4</td><td>mxfp4 SR x mxfp4</td>
 *       <td>mxfp4 SR x mxfp4, random Hadamard 32</td><td>STE; last ⌈15%⌉ of the blocks (from 4) in BF16</td></tr>
 * </table>
 * In every recipe below {@code bf16} the LM head runs all three GeMMs in BF16 (the output
 * projection is kept in high precision in the FP8 and FP4 training recipes this library follows);
 * in {@code fp32} and {@code bf16} it is like every other layer. Non-GeMM operations (norms, RoPE,
 * the attention core, SwiGLU, the loss) are FP32 in every recipe.
 *
 * <p>Stochastic rounding (SR) draws from a stream that the layer derives from the model's rounding
 * seed ({@code LlamaModel.setRoundingSeed}, default 0), the training step, the micro-batch, the
 * layer and the operand (see {@code Linear.roundingStream}), so runs are reproducible and a resumed
 * run rounds exactly as the uninterrupted one.
 */
public final class Recipes {
    /** Name of the all-FP32 recipe. */
    public static final String FP32 = "fp32";
    /** Name of the BF16 baseline. */
    public static final String BF16 = "bf16";
    /** Name of the FP8 baseline. */
    public static final String FP8 = "fp8";
    /** Name of the direct-cast FP4 baseline. */
    public static final String FP4_DIRECT = "fp4-direct";
    /** Name of Wang et al.'s recipe (library defaults). */
    public static final String FP4_DGE_OCC = "fp4-dge-occ";
    /** Name of Wang et al.'s recipe with the official code's exact choices. */
    public static final String FP4_DGE_OCC_OFFICIAL = "fp4-dge-occ-official";
    /** Name of Zhou et al.'s module-wise recipe. */
    public static final String FP4_MODULEWISE = "fp4-modulewise";
    /** Name of NVIDIA's NVFP4 recipe. */
    public static final String NVFP4 = "nvfp4";
    /** Name of the OCP MXFP4 recipe. */
    public static final String MXFP4 = "mxfp4";
    /** Name of NVFP4 with Four Over Six's block scales. */
    public static final String NVFP4_4OVER6 = "nvfp4-4over6";
    /** Name of NVIDIA's MXFP4 baseline. */
    public static final String MXFP4_NVIDIA = "mxfp4-nvidia";

    /** Wang et al.'s α. */
    public static final double DEFAULT_ALPHA = OutlierClamp.DEFAULT_ALPHA;
    /** Zhou et al.'s default fine-grained block (not published; one of the common 16/32/128). */
    public static final int DEFAULT_MODULEWISE_BLOCK = 32;
    /** Default fraction of the steps run in the target precision (the last 10%). */
    public static final double DEFAULT_TARGET_FRACTION = 0.1;
    /** Seed of the fixed random sign vector of the recipes' Hadamard transforms. */
    public static final long HADAMARD_SEED = 0x4AD4_3A2DL;
    /**
     * Transformer Engine's fixed sign vector of the 16-point random Hadamard transform of NVFP4's
     * weight-gradient operands ({@code get_wgrad_sign_vector()} in
     * {@code transformer_engine/pytorch/custom_recipes/reference_nvfp4.py}).
     */
    public static final float[] TE_RHT_SIGNS = {1, 1, 1, -1, 1, -1, -1, -1, -1, -1, -1, 1, -1, 1, -1, -1};

    /** Seed of the stochastic-rounding schemes (the layer's stream makes every call distinct). */
    public static final long SR_SEED = 0x5EED_5EEDL;

    private static final OperandFormat FP4_ROW = OperandFormat.fp4(Fp4Scheme.perRow());
    private static final GemmPrecision E4M3_GEMM = GemmPrecision.both(OperandFormat.E4M3);
    private static final LinearPrecision BF16_LAYER = LinearPrecision.uniform(OperandFormat.BF16);

    private Recipes() {
    }

    /** All GeMMs in FP32. */
    public static PrecisionRecipe fp32() {
        return PrecisionRecipe.FP32;
    }

    /** Every operand of every linear GeMM rounded to BF16, FP32 accumulation. */
    public static PrecisionRecipe bf16() {
        return PrecisionRecipe.builder(BF16).defaults(BF16_LAYER).build();
    }

    /**
     * The FP8 baseline: forward X and W in E4M3, the gradient operand (dY) of both backward GeMMs in
     * E5M2 with the other in E4M3, each operand with one power-of-two scale (per tensor).
     */
    public static PrecisionRecipe fp8() {
        GemmPrecision grad = new GemmPrecision(OperandFormat.E5M2, OperandFormat.E4M3);
        return PrecisionRecipe.builder(FP8)
                .defaults(new LinearPrecision(E4M3_GEMM, grad, grad, WeightGradientEstimator.STE))
                .lmHead(BF16_LAYER)
                .build();
    }

    /**
     * Direct casting to FP4 (the paper's failing baseline): forward X per token and W per output
     * channel in FP4 (power-of-two scales, RNE), the straight-through estimator, no clamping;
     * backward GeMMs in FP8 E4M3 as in {@link #fp4DgeOcc}, so the two differ only in DGE and OCC.
     */
    public static PrecisionRecipe fp4Direct() {
        return PrecisionRecipe.builder(FP4_DIRECT)
                .defaults(new LinearPrecision(GemmPrecision.both(FP4_ROW), E4M3_GEMM, E4M3_GEMM,
                        WeightGradientEstimator.STE))
                .lmHead(BF16_LAYER)
                .build();
    }

    /** {@code fp4-dge-occ} with α = 0.99, k = 5 and FP8 backward GeMMs. */
    public static PrecisionRecipe fp4DgeOcc() {
        return fp4DgeOcc(FP4_DGE_OCC, DEFAULT_ALPHA, DifferentiableGradientEstimator.DEFAULT_K, true);
    }

    /**
     * Wang et al. (2025) with the library's defaults: forward X per token and W per output channel
     * in FP4 (exact power-of-two scales, RNE), the DGE with sharpness k on the weight gradient,
     * outlier clamping of X at the signed α-quantiles of the whole tensor with the sparse FP32
     * compensation ΔX·Wᵀ; backward GeMMs in FP8 E4M3 (the official FP8-LM scheme, per-tensor
     * scales) or, with {@code fp8Backward} false, in FP32.
     *
     * @param name a name for the variant (recorded by checkpoints and the command line)
     */
    public static PrecisionRecipe fp4DgeOcc(String name, double alpha, float k, boolean fp8Backward) {
        GemmPrecision back = fp8Backward ? E4M3_GEMM : GemmPrecision.FP32;
        return PrecisionRecipe.builder(name)
                .defaults(new LinearPrecision(GemmPrecision.both(FP4_ROW), back, back, WeightGradientEstimator.dge(k),
                        new OutlierClamping(alpha, OutlierClamp.Granularity.PER_TENSOR, true)))
                .lmHead(BF16_LAYER)
                .build();
    }

    /**
     * Wang et al. (2025) with the official code's exact choices: HALF_UP ties, the BF16-step scale
     * rule, X per token, W per input column (amax over dim 0 of W [out, in]), clamping per token
     * at α = 0.99 without compensation, the DGE with k = 5, backward GeMMs in FP8 E4M3.
     */
    public static PrecisionRecipe fp4DgeOccOfficial() {
        Fp4Scheme x = Fp4Scheme.perRow().withRounding(Rounding.HALF_UP).withScaleRule(ScaleRule.OFFICIAL_BF16);
        Fp4Scheme w = Fp4Scheme.perColumn().withRounding(Rounding.HALF_UP).withScaleRule(ScaleRule.OFFICIAL_BF16);
        GemmPrecision fwd = new GemmPrecision(OperandFormat.fp4(x), OperandFormat.fp4(w));
        return PrecisionRecipe.builder(FP4_DGE_OCC_OFFICIAL)
                .defaults(new LinearPrecision(fwd, E4M3_GEMM, E4M3_GEMM, WeightGradientEstimator.dge(),
                        new OutlierClamping(DEFAULT_ALPHA, OutlierClamp.Granularity.PER_ROW, false)))
                .lmHead(BF16_LAYER)
                .build();
    }

    /** {@code fp4-modulewise} with 1×32 blocks and the last 10% of steps in {@code bf16}. */
    public static PrecisionRecipe fp4Modulewise() {
        return fp4Modulewise(FP4_MODULEWISE, DEFAULT_MODULEWISE_BLOCK, bf16(), DEFAULT_TARGET_FRACTION);
    }

    /**
     * Zhou et al. (2025), module-wise: the FFN projections' forward in FP4 with fine-grained 1×block
     * scales along the reduction dimension (exact power-of-two scales, RNE), the attention
     * projections' forward in FP8 E4M3, every backward GeMM in FP8 E4M3, STE; the attention core
     * stays FP32. Then the target-precision schedule: the last {@code targetFraction} of the steps
     * run in {@code target}.
     */
    public static PrecisionRecipe fp4Modulewise(String name, int block, PrecisionRecipe target, double targetFraction) {
        if (block <= 0) {
            throw new IllegalArgumentException("block size must be positive, got " + block);
        }
        OperandFormat fine = OperandFormat.fp4(Fp4Scheme.blocks(1, block, ScaleRule.POWER_OF_TWO));
        LinearPrecision ffn = new LinearPrecision(GemmPrecision.both(fine), E4M3_GEMM, E4M3_GEMM,
                WeightGradientEstimator.STE);
        LinearPrecision attention = LinearPrecision.uniform(OperandFormat.E4M3);
        return PrecisionRecipe.builder(name)
                .defaults(BF16_LAYER)
                .attention(attention)
                .feedForward(ffn)
                .targetPrecision(target, targetFraction)
                .build();
    }

    /** NVIDIA's share of BF16 blocks: the last ⌈15%⌉ of them ... */
    public static final double NVIDIA_BF16_FRACTION = 0.15;
    /** ... in models of at least this many blocks. */
    public static final int NVIDIA_BF16_MIN_BLOCKS = 4;

    /**
     * {@code nvfp4}: {@link #nvfp4(String, int, int)} with the last ⌈15%⌉ of the blocks in BF16
     * when there are 4 or more (NVIDIA kept the last 8 of 32 blocks at 8B, about 15% of the
     * linear layers; models of fewer blocks keep all in NVFP4).
     */
    public static PrecisionRecipe nvfp4() {
        return nvfp4Builder(NVFP4)
                .lastBlocksFraction(NVIDIA_BF16_FRACTION, NVIDIA_BF16_MIN_BLOCKS, BF16_LAYER)
                .lmHead(BF16_LAYER)
                .build();
    }

    /**
     * NVIDIA's NVFP4 training recipe: activations and gradients in 1×16 blocks, weights in 16×16
     * blocks (E4M3 block scales under an FP32 tensor scale), stochastic rounding on the gradient
     * operand dY of both backward GeMMs (RNE elsewhere), a 16-point random Hadamard transform (TE's
     * fixed signs, {@link #TE_RHT_SIGNS}) of both weight-gradient operands along the token
     * dimension, whose X operand is quantized from the
     * high-precision X (as Transformer Engine does: no double quantization); the first
     * {@code bf16First} and last {@code bf16Last} transformer blocks in BF16.
     */
    public static PrecisionRecipe nvfp4(String name, int bf16First, int bf16Last) {
        return nvfp4Builder(name)
                .firstBlocks(bf16First, BF16_LAYER)
                .lastBlocks(bf16Last, BF16_LAYER)
                .lmHead(BF16_LAYER)
                .build();
    }

    private static PrecisionRecipe.Builder nvfp4Builder(String name) {
        return nvfp4Builder(name, Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d());
    }

    /**
     * {@code nvfp4-4over6}: {@link #nvfp4()} with Four Over Six's block scales (arXiv 2512.02010;
     * Transformer Engine's {@code nvfp4_4over6}) on every operand: per block the map-to-4 scale
     * when its squared error is smaller, the tensor scale under TE's E4M3 bound of 256
     * ({@link ScaleRule#NVFP4_4OVER6}).
     */
    public static PrecisionRecipe nvfp4FourOverSix() {
        return nvfp4Builder(NVFP4_4OVER6, Fp4Scheme.nvfp4FourOverSix(), Fp4Scheme.nvfp4FourOverSix2d())
                .lastBlocksFraction(NVIDIA_BF16_FRACTION, NVIDIA_BF16_MIN_BLOCKS, BF16_LAYER)
                .lmHead(BF16_LAYER)
                .build();
    }

    private static PrecisionRecipe.Builder nvfp4Builder(String name, Fp4Scheme rows, Fp4Scheme blocks2d) {
        OperandFormat act = OperandFormat.fp4(rows);
        OperandFormat weight = OperandFormat.fp4(blocks2d);
        OperandFormat grad = OperandFormat.fp4(rows.withRounding(Rounding.stochastic(SR_SEED)));
        RandomHadamard h = RandomHadamard.withSigns(TE_RHT_SIGNS);
        LinearPrecision p = new LinearPrecision(new GemmPrecision(act, weight), new GemmPrecision(grad, weight),
                new GemmPrecision(grad, act).withHadamard(h).withOperandFromInput(), WeightGradientEstimator.STE);
        return PrecisionRecipe.builder(name).defaults(p);
    }

    /**
     * OCP MXFP4 for all the blocks' linear GeMMs: 1×32 blocks along the reduction dimension with
     * E8M0 scales (the spec's FLOOR rule), RNE, stochastic rounding on the gradient operand dY of
     * both backward GeMMs.
     */
    public static PrecisionRecipe mxfp4() {
        OperandFormat mx = OperandFormat.fp4(Fp4Scheme.mxfp4());
        OperandFormat grad = OperandFormat.fp4(Fp4Scheme.mxfp4().withRounding(Rounding.stochastic(SR_SEED)));
        GemmPrecision back = new GemmPrecision(grad, mx);
        return PrecisionRecipe.builder(MXFP4)
                .defaults(new LinearPrecision(GemmPrecision.both(mx), back, back, WeightGradientEstimator.STE))
                .lmHead(BF16_LAYER)
                .build();
    }

    /**
     * NVIDIA's MXFP4 baseline (arXiv 2509.25149, §5 and B.4): 1×32 blocks with E8M0 scales rounded
     * up (amax/6 to the next power of two, {@link ScaleRule#MX_RCEIL}, so no block maximum clips),
     * stochastic rounding on dY in both backward GeMMs, a 32-point random Hadamard transform of both
     * weight-gradient operands along the tokens, and the same BF16 share of blocks as
     * {@link #nvfp4()} (the last ⌈15%⌉ from 4 blocks), the LM head in BF16.
     */
    public static PrecisionRecipe mxfp4Nvidia() {
        Fp4Scheme up = Fp4Scheme.blocks(1, 32, ScaleRule.MX_RCEIL);
        OperandFormat mx = OperandFormat.fp4(up);
        OperandFormat grad = OperandFormat.fp4(up.withRounding(Rounding.stochastic(SR_SEED)));
        RandomHadamard h = new RandomHadamard(32, HADAMARD_SEED);
        LinearPrecision p = new LinearPrecision(GemmPrecision.both(mx), new GemmPrecision(grad, mx),
                new GemmPrecision(grad, mx).withHadamard(h), WeightGradientEstimator.STE);
        return PrecisionRecipe.builder(MXFP4_NVIDIA)
                .defaults(p)
                .lastBlocksFraction(NVIDIA_BF16_FRACTION, NVIDIA_BF16_MIN_BLOCKS, BF16_LAYER)
                .lmHead(BF16_LAYER)
                .build();
    }
}
