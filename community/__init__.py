"""What is platform-wide but no kernel mechanics: the roles (``roles``), who may do what
(``policy``), the services (``services``). Importable without Nameko or a database."""
