# CNN (VGG-style, CIFAR-10) in R, driving Keras: 2017's KerasR_TF_CNN
# (ilkarman/DeepLearningFrameworks, notebooks/KerasR_TF_CNN.ipynb: R 3.4.1, R keras 2.1.5 over
# TensorFlow 1.5). Called from tasks/cnn/rkeras.py, which the runtime drives (clock, data,
# checks); the R keras functions are tasks/common/rkeras.R's. Sizes in common/params.py, handed
# over as the list p.

build_model <- function(p) {
  if (identical(p$layout, "NCHW")) {  # a GPU: channels-first, as the notebook set
    backend_set_image_data_format("channels_first")
    shape <- c(p$channels, p$height, p$width)
  } else {  # TensorFlow's CPU kernels have no channels-first max-pool gradient
    backend_set_image_data_format("channels_last")
    shape <- c(p$height, p$width, p$channels)
  }
  k <- c(p$kernel, p$kernel)
  pool <- c(p$pool, p$pool)
  # Keras's defaults are the 2017 ones: glorot-uniform kernels, zero biases
  keras_model_sequential() |>
    layer_conv_2d(p$conv1_filters, k, padding = "same", activation = "relu",
                  input_shape = shape) |>
    layer_conv_2d(p$conv1_filters, k, padding = "same", activation = "relu") |>
    layer_max_pooling_2d(pool, strides = pool) |>
    layer_dropout(p$dropout_conv) |>
    layer_conv_2d(p$conv2_filters, k, padding = "same", activation = "relu") |>
    layer_conv_2d(p$conv2_filters, k, padding = "same", activation = "relu") |>
    layer_max_pooling_2d(pool, strides = pool) |>
    layer_dropout(p$dropout_conv) |>
    layer_flatten() |>
    layer_dense(p$dense_units, activation = "relu") |>
    layer_dropout(p$dropout_dense) |>
    layer_dense(p$n_classes)  # logits: softmax lives in the loss
}

count_parameters <- function(model) count_params(model)

build_trainer <- function(model, p) {
  # SGD with momentum, Keras's form: v = momentum * v - lr * g; w += v
  model |> compile(loss = loss_sparse_categorical_crossentropy(from_logits = TRUE),
                   optimizer = optimizer_sgd(p$lr, momentum = p$momentum),
                   metrics = "sparse_categorical_accuracy")  # 2017: accuracy, one-hot labels
  list(model = model, batch_size = p$batch_size)
}

train_step <- function(state, x, y) {
  state$model |> train_on_batch(x, y)
}

train_epoch <- function(state, x, y) {
  # 2017: fit(x_train, y_train, batch_size, epochs): Keras ran the batch loop. One fit per epoch
  # over the runner's shuffled complete batches (shuffle off: the runner drew it)
  history <- state$model |> fit(x, y, batch_size = state$batch_size, epochs = 1,
                                verbose = 0, shuffle = FALSE)
  history$history$loss[[1]]
}

predict_labels <- function(state, x) {
  state$model |> predict_classes(x, batch_size = state$batch_size)
}
