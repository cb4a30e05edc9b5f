/**
 * fp4-core: the FP4 (E2M1) number format and its companions, scaling schemes, quantizers, the
 * differentiable gradient estimator, outlier clamping with sparse compensation, and the
 * software-emulated FP4 GeMM. Depends on nothing but the JDK's incubating Vector API.
 */
module dev.fp4.core {
    requires transitive jdk.incubator.vector;

    exports dev.fp4.core.format;
    exports dev.fp4.core.gemm;
    exports dev.fp4.core.quant;
    exports dev.fp4.core.simd;
}
