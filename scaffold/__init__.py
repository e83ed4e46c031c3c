"""kfunc's command line: scaffold, build, run, invoke and deploy functions."""
