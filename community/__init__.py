"""What is the platform's but not the kernel's mechanics: the list of services, the roles, the
access policy. Importable without Nameko or a database."""
