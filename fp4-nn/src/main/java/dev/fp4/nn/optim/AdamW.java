package dev.fp4.nn.optim;

import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.DType;
import dev.fp4.nn.checkpoint.TensorData;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * AdamW (Loshchilov and Hutter) over FP32 master weights, with the two moments stored in a chosen
 * {@link MomentPrecision}. At step t (1-based), for every element, in FP32 arithmetic and in this
 * order (PyTorch's {@code torch.optim.AdamW}, non-fused):
 *
 * <pre>
 *   w ← w·(1 − lr·λ)                          (only when the decay rule selects the parameter)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   w ← w − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 * </pre>
 *
 * The update uses the FP32 values of m and v just computed; they are then rounded into their
 * storage format, and the next step starts from the decoded stored values. The bias corrections
 * 1 − β^t are computed in double and rounded once to FP32.
 *
 * <p>Not thread-safe. Gradients are read from {@link Parameter#grad()} and are not modified.
 */
public final class AdamW implements Optimizer {
    /**
     * Hyper-parameters.
     *
     * @param beta1       first-moment decay, in [0, 1)
     * @param beta2       second-moment decay, in [0, 1)
     * @param eps         denominator guard, positive
     * @param weightDecay decoupled weight decay λ, non-negative
     * @param precision   moment storage
     * @param decayRule   which parameters are decayed
     */
    public record Settings(double beta1, double beta2, double eps, double weightDecay, MomentPrecision precision,
                           WeightDecayRule decayRule) {
        /** Validates the ranges. */
        public Settings {
            Objects.requireNonNull(precision, "precision");
            Objects.requireNonNull(decayRule, "decayRule");
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
            }
            if (!(eps > 0) || !Double.isFinite(eps)) {
                throw new IllegalArgumentException("eps must be positive and finite, got " + eps);
            }
            if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
                throw new IllegalArgumentException("weightDecay must be non-negative and finite, got " + weightDecay);
            }
        }

        /** The paper's setting: β = (0.9, 0.95), ε = 1e-8, λ = 0.1, decaying matrices except embeddings. */
        public static Settings paper(MomentPrecision precision) {
            return new Settings(0.9, 0.95, 1e-8, 0.1, precision, WeightDecayRule.MATRICES_EXCEPT_EMBEDDINGS);
        }

        /** A copy with another moment precision. */
        public Settings withPrecision(MomentPrecision p) {
            return new Settings(beta1, beta2, eps, weightDecay, p, decayRule);
        }

        /** A copy with another weight decay and rule. */
        public Settings withWeightDecay(double lambda, WeightDecayRule rule) {
            return new Settings(beta1, beta2, eps, lambda, precision, rule);
        }
    }

    /** Name of the step counter in {@link #state()}. */
    public static final String STEP_KEY = "step";

    private final List<Parameter> params;
    private final Settings settings;
    private final MomentBuffer[] m;
    private final MomentBuffer[] v;
    private final boolean[] decays;
    private final float[] scratchM;
    private final float[] scratchV;
    private long t;

    /**
     * @param params the parameters to update, in a fixed order; names must be unique
     */
    public AdamW(List<Parameter> params, Settings settings) {
        this.params = List.copyOf(params);
        this.settings = Objects.requireNonNull(settings, "settings");
        Set<String> names = new HashSet<>();
        int max = 0;
        m = new MomentBuffer[this.params.size()];
        v = new MomentBuffer[this.params.size()];
        decays = new boolean[this.params.size()];
        for (int i = 0; i < m.length; i++) {
            Parameter p = this.params.get(i);
            if (!names.add(p.name())) {
                throw new IllegalArgumentException("duplicate parameter name \"" + p.name() + "\"");
            }
            m[i] = MomentBuffer.create(settings.precision().first(), p.size());
            v[i] = MomentBuffer.create(settings.precision().second(), p.size());
            decays[i] = settings.decayRule().decays(p);
            max = Math.max(max, p.size());
        }
        scratchM = new float[max];
        scratchV = new float[max];
    }

    /** The hyper-parameters. */
    public Settings settings() {
        return settings;
    }

    /** Number of steps taken so far (t of the last step; 0 before the first). */
    @Override
    public long stepCount() {
        return t;
    }

    /** True when the decay rule selected parameter {@code index}. */
    public boolean decays(int index) {
        return decays[index];
    }

    /**
     * One AdamW step with learning rate {@code lr} over the current gradients.
     *
     * @throws IllegalArgumentException when lr is negative or not finite
     */
    @Override
    public void step(double lr) {
        if (!(lr >= 0) || !Double.isFinite(lr)) {
            throw new IllegalArgumentException("learning rate must be non-negative and finite, got " + lr);
        }
        t++;
        float b1 = (float) settings.beta1();
        float b2 = (float) settings.beta2();
        float omb1 = (float) (1 - settings.beta1());
        float omb2 = (float) (1 - settings.beta2());
        float stepSize = (float) (lr / (1 - StrictMath.pow(settings.beta1(), t)));
        float sqrtBc2 = (float) Math.sqrt(1 - StrictMath.pow(settings.beta2(), t));
        float eps = (float) settings.eps();
        float decay = (float) (1 - lr * settings.weightDecay());
        for (int i = 0; i < m.length; i++) {
            Parameter p = params.get(i);
            float[] w = p.data();
            float[] g = p.grad();
            int n = w.length;
            m[i].decode(scratchM);
            v[i].decode(scratchV);
            boolean decayThis = decays[i] && settings.weightDecay() != 0;
            for (int j = 0; j < n; j++) {
                float gj = g[j];
                float mj = b1 * scratchM[j] + omb1 * gj;
                float vj = b2 * scratchV[j] + omb2 * gj * gj;
                scratchM[j] = mj;
                scratchV[j] = vj;
                float wj = decayThis ? w[j] * decay : w[j];
                float denom = (float) Math.sqrt(vj) / sqrtBc2 + eps;
                w[j] = wj - stepSize * (mj / denom);
            }
            m[i].encode(scratchM);
            v[i].encode(scratchV);
        }
    }

    /**
     * The optimizer state as named tensors, for checkpoints: {@code "step"} (I64 [1]), and for every
     * parameter P {@code "m.P"} and {@code "v.P"} in their storage type (F32, BF16, F16 bits or E4M3
     * codes as U8, shaped as the parameter), plus {@code "m.P.scale"} / {@code "v.P.scale"} (F32
     * [1]) for the scaled formats. Restoring with {@link #loadState} reproduces the optimizer bit
     * for bit.
     */
    public Map<String, TensorData> state() {
        return state(false);
    }

    /**
     * As {@link #state()}, but the moment tensors are views of the optimizer's live buffers, not
     * copies: for writing a checkpoint at once without a second copy of the state in memory. The
     * views change with the next {@link #step}.
     */
    @Override
    public Map<String, TensorData> stateView() {
        return state(true);
    }

    private Map<String, TensorData> state(boolean view) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        out.put(STEP_KEY, TensorData.ofLong(t));
        for (int i = 0; i < m.length; i++) {
            Parameter p = params.get(i);
            m[i].exportTo(out, "m." + p.name(), p.shape(), view);
            v[i].exportTo(out, "v." + p.name(), p.shape(), view);
        }
        return out;
    }

    /**
     * Restores the state written by {@link #state()} of an optimizer over the same parameters
     * with the same moment precision.
     *
     * @throws IllegalArgumentException naming the first missing or mismatched tensor
     */
    @Override
    public void loadState(Map<String, TensorData> state) {
        TensorData step = state.get(STEP_KEY);
        if (step == null || step.dtype() != DType.I64 || step.size() != 1) {
            throw new IllegalArgumentException("optimizer state: missing or malformed \"" + STEP_KEY + "\" (I64 [1]): " + step);
        }
        long s = step.toLongs()[0];
        if (s < 0) {
            throw new IllegalArgumentException("optimizer state: negative step " + s);
        }
        // Import into fresh buffers first so that a bad state leaves this optimizer unchanged.
        MomentBuffer[] nm = new MomentBuffer[m.length];
        MomentBuffer[] nv = new MomentBuffer[v.length];
        for (int i = 0; i < m.length; i++) {
            Parameter p = params.get(i);
            nm[i] = MomentBuffer.create(settings.precision().first(), p.size());
            nv[i] = MomentBuffer.create(settings.precision().second(), p.size());
            nm[i].importFrom(state, "m." + p.name());
            nv[i].importFrom(state, "v." + p.name());
        }
        System.arraycopy(nm, 0, m, 0, m.length);
        System.arraycopy(nv, 0, v, 0, v.length);
        t = s;
    }

    /** The first moment of parameter {@code index} as currently stored, decoded to FP32 (a copy). */
    public float[] firstMoment(int index) {
        float[] out = new float[params.get(index).size()];
        m[index].decode(out);
        return out;
    }

    /** The second moment of parameter {@code index} as currently stored, decoded to FP32 (a copy). */
    public float[] secondMoment(int index) {
        float[] out = new float[params.get(index).size()];
        v[index].decode(out);
        return out;
    }
}
