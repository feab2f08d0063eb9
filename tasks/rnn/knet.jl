# RNN (GRU sentiment classifier, IMDB) in Knet: 2017's Knet_RNN (ilkarman/DeepLearningFrameworks,
# notebooks/Knet_RNN.ipynb: Julia 0.6.1, Knet 0.8.5+, K80): cuDNN's GRU through rnninit /
# rnnforw, the embedding a matrix indexed by the word ids, the classifier a matrix without a
# bias (as the notebook). Called from tasks/rnn/knet.py, which the runtime drives (clock, data,
# checks). Sizes in common/params.py, handed over as the Dict p.

function build_model(p)
    spec, gru = rnninit(p["embedding"], p["hidden"]; rnnType=:gru)
    embedding = KnetArray(xavier(Float32, p["embedding"], p["max_features"]))
    classifier = KnetArray(xavier(Float32, p["n_classes"], p["hidden"]))
    Dict("spec" => spec, "w" => (gru, embedding, classifier))
end

# the notebook's predict: ids (batch, time), 0-based from the runtime, +1 for Julia
function forward(w, ids, spec)
    gru, embedding, classifier = w
    x = embedding[:, ids .+ 1]            # (embedding, batch, time)
    h = rnnforw(spec, gru, x)[1]          # (hidden, batch, time)
    classifier * h[:, :, end]             # (classes, batch): the last step's output
end

loss(w, ids, y, spec) = nll(forward(w, ids, spec), y)
const loss_and_gradient = gradloss(loss)  # 2017: grad(loss); gradloss also returns the loss

count_parameters(model) = sum(length(a) for a in model["w"])

function build_trainer(model, p)
    Dict("w" => model["w"], "spec" => model["spec"],
         "optim" => optimizers(model["w"], Adam; lr=p["lr"], beta1=p["beta1"],
                               beta2=p["beta2"], eps=p["eps"]))
end

function train_step(state, x, y)
    grads, value = loss_and_gradient(state["w"], Array{Int}(x), labels(y), state["spec"])
    update!(state["w"], grads, state["optim"])
    value  # a host scalar: reading it waited for the GPU
end

predict_labels(state, x) = classes(Array(forward(state["w"], Array{Int}(x), state["spec"])))
