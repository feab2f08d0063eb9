# The R host of a framework whose task files are R programs (frameworks/rkeras.py declares it
# as its HOST): the runtime's script, started by python3 as for every image, re-executes itself
# here (runtime/adapters.py rehost); R starts, reticulate embeds Python, and the script runs in
# that Python with the same arguments, owning the clock and writing the result as anywhere.
# The R task files' functions reach the Python side through runtime/host.py's source.
#
#   Rscript tasks/runtime/rhost.R SCRIPT [ARGS...]
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])
tasks <- dirname(dirname(normalizePath(self)))
host <- reticulate::import_from_path("runtime.host", path = tasks)

# source R files, in order, into one new environment; its functions by name (each a Python
# callable on the other side: reticulate converts the arguments to R and the value back)
host$source <- function(paths) {
  env <- new.env(parent = globalenv())
  for (path in paths) sys.source(path, envir = env, keep.source = FALSE)
  as.list(env)
}
host$session <- list(version = R.version.string,
                       reticulate = as.character(utils::packageVersion("reticulate")))
quit(save = "no", status = host$run_script(as.list(commandArgs(trailingOnly = TRUE))))
