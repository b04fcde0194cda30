//! The one place the tensor backend is chosen. burn 0.22 dispatches on the device at run time;
//! switching to a GPU backend means changing these two functions (and burn's features).

use burn::tensor::Device;

/// Device for inference and evaluation.
pub fn inference_device() -> Device {
    Device::flex()
}

/// Device for training (autodiff on top of the inference backend).
pub fn training_device() -> Device {
    Device::flex().autodiff()
}
