package dev.fp4.core.quant;

import java.util.Objects;

/**
 * How a row-major matrix [rows, cols] is scaled and rounded to E2M1.
 *
 * <p>Every scheme is a block scheme: {@link #blockRows()} × {@link #blockCols()} elements share
 * one scale, 0 meaning "the whole extent". Blocks are laid out from the top-left corner; the last
 * block of a row or column may be partial. The scale of each block follows the {@link ScaleRule};
 * the scaled values are rounded by the {@link Rounding}.
 *
 * <table>
 *   <caption>Factories</caption>
 *   <tr><th>factory</th><th>blockRows</th><th>blockCols</th><th>default rule</th></tr>
 *   <tr><td>{@link #perTensor()}</td><td>0</td><td>0</td><td>POWER_OF_TWO</td></tr>
 *   <tr><td>{@link #perRow()}</td><td>1</td><td>0</td><td>POWER_OF_TWO</td></tr>
 *   <tr><td>{@link #perColumn()}</td><td>0</td><td>1</td><td>POWER_OF_TWO</td></tr>
 *   <tr><td>{@link #mxfp4()}</td><td>1</td><td>32</td><td>MX_FLOOR</td></tr>
 *   <tr><td>{@link #nvfp4()}</td><td>1</td><td>16</td><td>NVFP4</td></tr>
 *   <tr><td>{@link #nvfp4_2d()}</td><td>16</td><td>16</td><td>NVFP4</td></tr>
 * </table>
 * All use {@link Rounding#RNE} unless changed with {@link #withRounding}. Instances are immutable.
 */
public final class Fp4Scheme {

    private final String base;
    private final int blockRows;
    private final int blockCols;
    private final ScaleRule rule;
    private final Rounding rounding;

    private Fp4Scheme(String base, int blockRows, int blockCols, ScaleRule rule, Rounding rounding) {
        this.base = base;
        this.blockRows = blockRows;
        this.blockCols = blockCols;
        this.rule = Objects.requireNonNull(rule, "rule");
        this.rounding = Objects.requireNonNull(rounding, "rounding");
    }

    /** One scale for the whole tensor. */
    public static Fp4Scheme perTensor() {
        return new Fp4Scheme("perTensor", 0, 0, ScaleRule.POWER_OF_TWO, Rounding.RNE);
    }

    /** One scale per row (vector-wise: per token of activations [tokens, in], per output channel of weights [out, in]). */
    public static Fp4Scheme perRow() {
        return new Fp4Scheme("perRow", 1, 0, ScaleRule.POWER_OF_TWO, Rounding.RNE);
    }

    /** One scale per column (the official code's "channel-wise" weights: amax over dim 0 of W [out, in]). */
    public static Fp4Scheme perColumn() {
        return new Fp4Scheme("perColumn", 0, 1, ScaleRule.POWER_OF_TWO, Rounding.RNE);
    }

    /** OCP MXFP4: 1×32 blocks along a row, E8M0 scales, the spec's FLOOR rule. */
    public static Fp4Scheme mxfp4() {
        return new Fp4Scheme("mxfp4", 1, 32, ScaleRule.MX_FLOOR, Rounding.RNE);
    }

    /** NVFP4: 1×16 blocks along a row, E4M3 block scales under an FP32 tensor scale. */
    public static Fp4Scheme nvfp4() {
        return new Fp4Scheme("nvfp4", 1, 16, ScaleRule.NVFP4, Rounding.RNE);
    }

    /** NVFP4 1×16 with Four Over Six's choice of block scale ({@link ScaleRule#NVFP4_4OVER6}). */
    public static Fp4Scheme nvfp4FourOverSix() {
        return new Fp4Scheme("nvfp4_4over6", 1, 16, ScaleRule.NVFP4_4OVER6, Rounding.RNE);
    }

    /** NVFP4 16×16 with Four Over Six's choice of block scale (the block's error summed over its 16 rows). */
    public static Fp4Scheme nvfp4FourOverSix2d() {
        return new Fp4Scheme("nvfp4_4over6_2d", 16, 16, ScaleRule.NVFP4_4OVER6, Rounding.RNE);
    }

    /** NVFP4 with 16×16 two-dimensional blocks (weights in NVIDIA's training recipe). */
    public static Fp4Scheme nvfp4_2d() {
        return new Fp4Scheme("nvfp4_2d", 16, 16, ScaleRule.NVFP4, Rounding.RNE);
    }

    /**
     * Any block shape with any rule (e.g. 1×128 blocks, a block size of Zhou et al.'s fine-grained
     * quantization).
     *
     * @param blockRows rows per block, 0 for all rows
     * @param blockCols columns per block, 0 for all columns
     */
    public static Fp4Scheme blocks(int blockRows, int blockCols, ScaleRule rule) {
        if (blockRows < 0 || blockCols < 0) {
            throw new IllegalArgumentException(
                    "block shape must be >= 0 (0 = whole extent), got " + blockRows + "x" + blockCols);
        }
        return new Fp4Scheme("blocks" + blockRows + "x" + blockCols, blockRows, blockCols, rule, Rounding.RNE);
    }

    /** This scheme with another rounding. */
    public Fp4Scheme withRounding(Rounding rounding) {
        return new Fp4Scheme(base, blockRows, blockCols, rule, rounding);
    }

    /** This scheme with another scale rule. */
    public Fp4Scheme withScaleRule(ScaleRule rule) {
        return new Fp4Scheme(base, blockRows, blockCols, rule, rounding);
    }

    /** Rows per block; 0 = all rows. */
    public int blockRows() {
        return blockRows;
    }

    /** Columns per block; 0 = all columns. */
    public int blockCols() {
        return blockCols;
    }

    /** The scale rule. */
    public ScaleRule scaleRule() {
        return rule;
    }

    /** The rounding. */
    public Rounding rounding() {
        return rounding;
    }

    /** A name such as {@code mxfp4(MX_FLOOR, RNE)}. */
    public String name() {
        return base + "(" + rule + ", " + rounding + ")";
    }

    /** Block rows of a matrix with this many rows. */
    int blockRowsFor(int rows) {
        return blockRows == 0 ? rows : blockRows;
    }

    /** Block columns of a matrix with this many columns. */
    int blockColsFor(int cols) {
        return blockCols == 0 ? cols : blockCols;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Fp4Scheme s && s.blockRows == blockRows && s.blockCols == blockCols
                && s.rule == rule && s.rounding.equals(rounding) && s.base.equals(base);
    }

    @Override
    public int hashCode() {
        return Objects.hash(base, blockRows, blockCols, rule, rounding);
    }

    @Override
    public String toString() {
        return name();
    }
}
