# RNN (GRU sentiment classifier, IMDB) in R, driving Keras: 2017's KerasR_TF_RNN
# (ilkarman/DeepLearningFrameworks, notebooks/KerasR_TF_RNN.ipynb: R 3.4.1, R keras 2.1.5 over
# TensorFlow 1.5). Called from tasks/rnn/rkeras.py, which the runtime drives (clock, data,
# checks); the R keras functions are tasks/common/rkeras.R's. Sizes in common/params.py, handed
# over as the list p.

build_model <- function(p) {
  # 2017: layer_cudnn_gru on its GPU; layer_gru is Keras's GRU, cuDNN's fused kernel where
  # Keras 3 can (a GPU), never silently the slow path there
  keras_model_sequential() |>
    layer_embedding(p$max_features, p$embedding, input_length = p$maxlen) |>
    layer_gru(p$hidden, return_sequences = FALSE, return_state = FALSE,
              use_cudnn = p$cudnn_gru) |>
    layer_dense(p$n_classes)  # logits: softmax lives in the loss
}

count_parameters <- function(model) count_params(model)

build_trainer <- function(model, p) {
  model |> compile(loss = loss_sparse_categorical_crossentropy(from_logits = TRUE),
                   optimizer = optimizer_adam(p$lr, beta_1 = p$beta1, beta_2 = p$beta2,
                                              epsilon = p$eps),
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
