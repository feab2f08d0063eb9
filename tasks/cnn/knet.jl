# CNN (VGG-style, CIFAR-10) in Knet: 2017's Knet_CNN (ilkarman/DeepLearningFrameworks,
# notebooks/Knet_CNN.ipynb: Julia 0.6.1, Knet 0.8.5+, K80): the weights a plain array, the model
# a function, the gradient AutoGrad's, momentum SGD by update!. Called from tasks/cnn/knet.py,
# which the runtime drives (clock, data, checks); whcn, labels, classes: tasks/common/knet.jl.
# Sizes in common/params.py, handed over as the Dict p.

function build_model(p)
    w(dims...) = KnetArray{Float32}(xavier(Float32, dims...))
    b(dims...) = KnetArray{Float32}(zeros(Float32, dims...))
    k, c1, c2 = p["kernel"], p["conv1_filters"], p["conv2_filters"]
    flat = c2 * div(p["height"], 4) * div(p["width"], 4)  # 100 x 8 x 8 after two poolings
    Any[w(k, k, p["channels"], c1), b(1, 1, c1, 1),
        w(k, k, c1, c1), b(1, 1, c1, 1),
        w(k, k, c1, c2), b(1, 1, c2, 1),
        w(k, k, c2, c2), b(1, 1, c2, 1),
        w(p["dense_units"], flat), b(p["dense_units"], 1),
        w(p["n_classes"], p["dense_units"]), b(p["n_classes"], 1)]
end

# the notebook's predict; dropout only when training (the notebook's accuracy() called the same
# predict, dropout included: here evaluation runs without it, as every column)
function forward(w, x, p, training)
    convbias(x, w, b) = conv4(w, x; padding=1) .+ b
    fc(x, w, b) = w * mat(x) .+ b
    drop(x, rate) = training ? dropout(x, rate) : x
    x = relu.(convbias(x, w[1], w[2]))
    x = relu.(pool(convbias(x, w[3], w[4])))
    x = drop(x, p["dropout_conv"])
    x = relu.(convbias(x, w[5], w[6]))
    x = relu.(pool(convbias(x, w[7], w[8])))
    x = drop(x, p["dropout_conv"])
    x = relu.(fc(x, w[9], w[10]))
    x = drop(x, p["dropout_dense"])
    fc(x, w[11], w[12])  # scores: the softmax lives in nll
end

loss(w, x, y, p) = nll(forward(w, x, p, true), y)  # nll: negative log likelihood
const loss_and_gradient = gradloss(loss)  # 2017: grad(loss); gradloss also returns the loss

count_parameters(model) = sum(length(a) for a in model)

function build_trainer(model, p)
    # Knet's Momentum: v = gamma * v + lr * g; w -= v (Keras's form)
    Dict("w" => model, "optim" => optimizers(model, Momentum; lr=p["lr"], gamma=p["momentum"]),
         "p" => p)
end

function train_step(state, x, y)
    grads, value = loss_and_gradient(state["w"], whcn(x), labels(y), state["p"])
    update!(state["w"], grads, state["optim"])
    value  # a host scalar: reading it waited for the GPU
end

predict_labels(state, x) = classes(Array(forward(state["w"], whcn(x), state["p"], false)))

# model equivalence (`dlbench check-models`): the weights as host arrays, in the model's order
export_weights(state) = [Array(a) for a in state["w"]]

function import_weights(state, arrays)
    for (a, value) in zip(state["w"], arrays)
        copy!(a, KnetArray{Float32}(Array{Float32}(value)))
    end
    nothing
end

scores(state, x) = Array(forward(state["w"], whcn(x), state["p"], false))
