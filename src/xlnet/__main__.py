from xlnet.cli import cli

cli(prog_name="xlnet")
