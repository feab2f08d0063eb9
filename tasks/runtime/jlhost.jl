# The Julia host of a framework whose task files are Julia programs (frameworks/knet.py declares
# it as its HOST; Julia 0.6, the 2017 Knet notebooks'): the runtime's script, started by python3
# as for every image, re-executes itself here (runtime/adapters.py rehost); Julia starts, PyCall
# embeds Python, and the script runs in that Python with the same arguments, owning the clock
# and writing the result as anywhere. The Julia task files' functions reach the Python side
# through runtime/host.py's source, as the R host's do (runtime/rhost.R).
#
#   julia tasks/runtime/jlhost.jl SCRIPT [ARGS...]
using PyCall

const TASKS = dirname(dirname(abspath(@__FILE__)))
unshift!(PyVector(pyimport("sys")["path"]), TASKS)
host = pyimport("runtime.host")

# include Julia files, in order, into one new module; its functions by name (each a Python
# callable on the other side: PyCall converts the arguments to Julia and the value back)
function source(paths)
    m = Module(:TaskFile)
    for path in paths
        eval(m, :(include($path)))
    end
    found = Dict{String,Any}()
    for name in names(m, true)
        value = isdefined(m, name) ? getfield(m, name) : nothing
        if isa(value, Function) && !startswith(string(name), "#")
            found[string(name)] = value
        end
    end
    found
end

host[:source] = source
host[:session] = Dict("version" => "Julia " * string(VERSION),
                      "knet" => string(Pkg.installed("Knet")))
exit(host[:run_script](ARGS))
