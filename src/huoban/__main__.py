from huoban.cli import app

app(prog_name="huoban")
