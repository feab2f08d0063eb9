# The functions of R's keras package (2.1.5, the 2017 notebooks') that the R task files
# (tasks/<task>/rkeras.R) call, each written here as that package defines it: a call of Python
# Keras through reticulate. R's keras package is not installable in the r-keras image (CRAN is
# unreachable; Debian does not package it). Written for this project from the package's
# documented behaviour, on Keras 3: the Python names are Keras 3's.
keras <- reticulate::import("keras")

# R keras's keras_array(): an R array to a NumPy array in row-major (C) order, Keras's float
# type for doubles (R has no float32); what fit(), train_on_batch() and predict() do to x and y
keras_array <- function(x, dtype = NULL) {
  if (is.null(dtype)) dtype <- if (is.double(x)) keras$config$floatx() else "int32"
  reticulate::np_array(x, dtype = dtype, order = "C")
}

# models and layers: a layer function adds its layer to the model it is given and returns the
# model, so the pipe builds a Sequential model as in the notebooks
keras_model_sequential <- function() keras$Sequential()

add_layer <- function(model, layer, input_shape = NULL) {
  if (!is.null(input_shape)) model$add(keras$Input(shape = as.list(as.integer(input_shape))))
  model$add(layer)
  model
}

layer_conv_2d <- function(model, filters, kernel_size, padding = "valid", activation = NULL,
                          input_shape = NULL) {
  add_layer(model, keras$layers$Conv2D(as.integer(filters), as.list(as.integer(kernel_size)),
                                       padding = padding, activation = activation),
            input_shape)
}

layer_max_pooling_2d <- function(model, pool_size = c(2, 2), strides = NULL) {
  if (!is.null(strides)) strides <- as.list(as.integer(strides))
  add_layer(model, keras$layers$MaxPooling2D(as.list(as.integer(pool_size)), strides = strides))
}

layer_dropout <- function(model, rate) add_layer(model, keras$layers$Dropout(rate))

layer_flatten <- function(model) add_layer(model, keras$layers$Flatten())

layer_dense <- function(model, units, activation = NULL) {
  add_layer(model, keras$layers$Dense(as.integer(units), activation = activation))
}

layer_embedding <- function(model, input_dim, output_dim, input_length = NULL) {
  input_shape <- if (is.null(input_length)) NULL else input_length
  add_layer(model, keras$layers$Embedding(as.integer(input_dim), as.integer(output_dim)),
            input_shape)
}

layer_gru <- function(model, units, return_sequences = FALSE, return_state = FALSE,
                      use_cudnn = "auto") {
  add_layer(model, keras$layers$GRU(as.integer(units), return_sequences = return_sequences,
                                    return_state = return_state, use_cudnn = use_cudnn))
}

application_resnet50 <- function(include_top = TRUE, weights = "imagenet", input_shape = NULL,
                                 pooling = NULL) {
  if (!is.null(input_shape)) input_shape <- as.list(as.integer(input_shape))
  keras$applications$ResNet50(include_top = include_top, weights = weights,
                              input_shape = input_shape, pooling = pooling)
}

backend_set_image_data_format <- function(data_format) {
  keras$config$set_image_data_format(data_format)
}

# training and prediction
optimizer_sgd <- function(lr, momentum = 0) keras$optimizers$SGD(lr, momentum = momentum)

optimizer_adam <- function(lr, beta_1, beta_2, epsilon) {
  keras$optimizers$Adam(lr, beta_1 = beta_1, beta_2 = beta_2, epsilon = epsilon)
}

loss_sparse_categorical_crossentropy <- function(from_logits = FALSE) {
  keras$losses$SparseCategoricalCrossentropy(from_logits = from_logits)
}

compile <- function(model, loss, optimizer, metrics = NULL) {
  model$compile(loss = loss, optimizer = optimizer, metrics = as.list(metrics))
  invisible(model)
}

fit <- function(model, x, y, batch_size = 32, epochs = 10, verbose = 1, shuffle = TRUE) {
  model$fit(keras_array(x), keras_array(y), batch_size = as.integer(batch_size),
            epochs = as.integer(epochs), verbose = as.integer(verbose), shuffle = shuffle)
}

train_on_batch <- function(model, x, y) model$train_on_batch(keras_array(x), keras_array(y))

# predict(): Keras's outputs as an R array (R keras converts them back)
predict_model <- function(model, x, batch_size = 32, verbose = 0) {
  model$predict(keras_array(x), batch_size = as.integer(batch_size), verbose = as.integer(verbose))
}

# predict_classes(): 0-based class indices, the largest output of each row
predict_classes <- function(model, x, batch_size = 32) {
  max.col(predict_model(model, x, batch_size), ties.method = "first") - 1L
}

count_params <- function(model) model$count_params()
