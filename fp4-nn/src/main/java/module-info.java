/**
 * fp4-nn: LLaMA-style layers with explicit forward and backward passes, precision recipes,
 * mixed-precision AdamW, data, checkpoints and the training loop.
 */
module dev.fp4.nn {
    requires transitive dev.fp4.core;
    requires org.slf4j;

    exports dev.fp4.nn;
    exports dev.fp4.nn.recipe;

}
