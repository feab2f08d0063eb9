# What every Knet task file (tasks/<task>/knet.jl) shares: Julia 0.6, Knet 0.8.5, as 2017's
# Knet notebooks ran them. Arrays arrive from the runtime's Python as Julia arrays indexed as
# NumPy's (batch first); Knet wants them the other way round (column-major: width, height,
# channels, batch), on the GPU.
using Knet

init(seed) = (srand(seed); nothing)

# NCHW (NumPy, row-major) -> WHCN (Knet, column-major): the same bytes in NumPy's order
whcn(x) = KnetArray{Float32}(permutedims(Array{Float32}(x), (4, 3, 2, 1)))

# class labels 0..n-1 (NumPy) -> 1..n (Knet's nll)
labels(y) = Int[v + 1 for v in y]

# the largest score of each column, 0-based as the runtime counts classes
classes(scores) = Int[indmax(scores[:, i]) - 1 for i in 1:size(scores, 2)]
