//! Quantization block formats: quantize / dequantize, bit-exact with ggml's reference.
