"""The peer for bench/startup.py: the smallest pygls 2 server, started the same way as ours."""

from pygls.lsp.server import LanguageServer

if __name__ == "__main__":
    LanguageServer("minimal", "0").start_io()
