"""dlbench host side: discover benchmark images, build them, run their tasks in containers,
collect and validate the results. The `dlbench` command line lives in harness.cli."""
