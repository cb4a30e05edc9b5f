/**
 * fp4-nn: LLaMA-style layers with explicit forward and backward passes, precision recipes,
 * mixed-precision AdamW, data, checkpoints and the training loop.
 */
module dev.fp4.nn {
    requires transitive dev.fp4.core;
    // Optional at run time, as in dev.fp4.core: only the ...Panama kernel classes use it.
    requires static jdk.incubator.vector;
    requires org.slf4j;
    requires jtokkit;
    requires com.google.gson;

    exports dev.fp4.nn;
    exports dev.fp4.nn.recipe;
    exports dev.fp4.nn.optim;
    exports dev.fp4.nn.data;
    exports dev.fp4.nn.checkpoint;
    exports dev.fp4.nn.train;
    exports dev.fp4.nn.hf;
    exports dev.fp4.nn.generate;

}
