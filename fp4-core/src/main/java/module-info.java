/**
 * fp4-core: the FP4 (E2M1) number format and its companions, scaling schemes, quantizers, the
 * differentiable gradient estimator, outlier clamping with sparse compensation, and the
 * software-emulated FP4 GeMM. Depends on nothing; uses the JDK's incubating Vector API when the JVM enables it (see {@link dev.fp4.core.simd.Simd}).
 */
module dev.fp4.core {
    // Optional at run time: without it the scalar kernels run (dev.fp4.core.simd.Simd).
    requires static jdk.incubator.vector;

    exports dev.fp4.core.format;
    exports dev.fp4.core.gemm;
    exports dev.fp4.core.quant;
    exports dev.fp4.core.simd;
    // The vector species, for the Panama kernels of dev.fp4.nn only.
    exports dev.fp4.core.simd.panama to dev.fp4.nn;
}
