# The plain side of bench/rkeras_vs_plain.py: 2017's KerasR_TF_CNN and KerasR_TF_RNN training
# cells as the notebooks ran them, in R: the model built and compiled again here (not taken
# from tasks/<task>/rkeras.R), the data already R arrays, and one fit over every epoch timed by
# system.time, as the notebooks' cells were. The R keras functions are tasks/common/rkeras.R's.
# Returns images (sequences) per second, elapsed time.

plain_cnn <- function(x, y, epochs, bs) {
  backend_set_image_data_format("channels_last")
  model <- keras_model_sequential() |>
    layer_conv_2d(50, c(3, 3), padding = "same", activation = "relu",
                  input_shape = c(32, 32, 3)) |>
    layer_conv_2d(50, c(3, 3), padding = "same", activation = "relu") |>
    layer_max_pooling_2d(c(2, 2), strides = c(2, 2)) |>
    layer_dropout(0.25) |>
    layer_conv_2d(100, c(3, 3), padding = "same", activation = "relu") |>
    layer_conv_2d(100, c(3, 3), padding = "same", activation = "relu") |>
    layer_max_pooling_2d(c(2, 2), strides = c(2, 2)) |>
    layer_dropout(0.25) |>
    layer_flatten() |>
    layer_dense(512, activation = "relu") |>
    layer_dropout(0.5) |>
    layer_dense(10)
  stopifnot(count_params(model) == 3441592)
  model |> compile(loss = loss_sparse_categorical_crossentropy(from_logits = TRUE),
                   optimizer = optimizer_sgd(0.01, momentum = 0.9),
                   metrics = "sparse_categorical_accuracy")
  timed_fit(model, x, y, epochs, bs)
}

plain_rnn <- function(x, y, epochs, bs) {
  model <- keras_model_sequential() |>
    layer_embedding(30000, 125, input_length = 150) |>
    layer_gru(100, use_cudnn = FALSE) |>
    layer_dense(2)
  model |> compile(loss = loss_sparse_categorical_crossentropy(from_logits = TRUE),
                   optimizer = optimizer_adam(0.001, beta_1 = 0.9, beta_2 = 0.999,
                                              epsilon = 1e-08),
                   metrics = "sparse_categorical_accuracy")
  timed_fit(model, x, y, epochs, bs)
}

timed_fit <- function(model, x, y, epochs, bs) {
  first <- seq_len(bs)  # Keras builds its training function on the first fit: untimed
  warm <- if (length(dim(x)) == 4) x[first, , , , drop = FALSE] else x[first, , drop = FALSE]
  model |> fit(warm, y[first], batch_size = bs, epochs = 1, verbose = 0)
  n <- (dim(x)[1] %/% bs) * bs  # complete batches, as the runner's
  x <- if (length(dim(x)) == 4) x[seq_len(n), , , , drop = FALSE] else x[seq_len(n), , drop = FALSE]
  y <- y[seq_len(n)]
  elapsed <- system.time(
    model |> fit(x, y, batch_size = bs, epochs = epochs, verbose = 0, shuffle = TRUE)
  )[["elapsed"]]
  n * epochs / elapsed
}
