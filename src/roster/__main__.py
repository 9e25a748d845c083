from roster.cli.main import app

app(prog_name="roster")
