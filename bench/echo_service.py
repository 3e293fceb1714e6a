"""The baseline service for benchmarks: an RPC that does nothing, so its round trip is the cost
of Nameko and RabbitMQ alone."""
from nameko.rpc import rpc


class EchoService:
    name = "bench_echo"

    @rpc
    def echo(self, value):
        return value
