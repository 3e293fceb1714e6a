from gateway.models import Base
from heyun.migrations import run_env

run_env(Base.metadata)
