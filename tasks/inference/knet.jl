# Inference (ResNet-50 feature extraction) in Knet: 2017's Knet_Inference
# (ilkarman/DeepLearningFrameworks, notebooks/Knet_Inference.ipynb: Julia 0.6.1, Knet 0.8.5+,
# K80): Knet's examples/resnet/resnetlib.jl, resnet50init(; stage=5) and resnet50(w, m, x;
# stage=5), the features after global average pooling, batches of 32. Random weights
# (trained=false: 2017 loaded MatConvNet's ImageNet weights, downloaded at run time; a benchmark
# never downloads). Called from tasks/inference/knet.py, which the runtime drives.
include(Knet.dir("examples", "resnet", "resnetlib.jl"))

function build_model(p)
    weights, moments = ResNetLib.resnet50init(; stage=5, trained=false, atype=KnetArray)
    Dict("w" => weights, "m" => moments)
end

# the weights and the batch-norm moments (one mean and one variance per channel of each
# batch-norm, whose scale and shift are the 1-D weights)
count_parameters(model) = sum(length(a) for a in model["w"]) +
                          sum(length(a) for a in model["w"] if ndims(a) == 1)

predict_features(model, x) =
    Array(mat(ResNetLib.resnet50(model["w"], model["m"], whcn(x); stage=5)))'  # (batch, 2048)
