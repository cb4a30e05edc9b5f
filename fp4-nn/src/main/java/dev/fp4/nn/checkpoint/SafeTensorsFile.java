package dev.fp4.nn.checkpoint;

import java.util.Map;

/**
 * The content of a safetensors file: tensors in file order and the {@code __metadata__} strings.
 *
 * @param tensors  name → tensor, in the order of their data offsets (unmodifiable)
 * @param metadata the {@code __metadata__} map, empty when absent (unmodifiable)
 */
public record SafeTensorsFile(Map<String, TensorData> tensors, Map<String, String> metadata) {
}
