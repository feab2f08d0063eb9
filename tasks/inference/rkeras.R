# Inference (ResNet-50 feature extraction) in R, driving Keras: 2017's KerasR_TF_Inference
# (ilkarman/DeepLearningFrameworks, notebooks/KerasR_TF_Inference.ipynb: R 3.4.1, R keras 2.1.5
# over TensorFlow 1.5): application_resnet50(include_top = FALSE, input_shape = c(224, 224, 3))
# and predict() on channels-last random images, batch 32. Called from tasks/inference/rkeras.py,
# which the runtime drives (clock, data, checks); the R keras functions are
# tasks/common/rkeras.R's.

build_model <- function(p) {
  # random weights (weights = NULL): 2017 loaded ImageNet's but timed random images, and a
  # benchmark never downloads. pooling "avg": Keras 2.1's ResNet50 averaged the 7x7 map even
  # without the top, 2048 features, as here
  application_resnet50(include_top = FALSE, weights = NULL, pooling = "avg",
                       input_shape = c(p$height, p$width, p$channels))
}

count_parameters <- function(model) count_params(model)

predict_features <- function(model, x, batch_size) {
  model |> predict_model(x, batch_size = batch_size)
}
