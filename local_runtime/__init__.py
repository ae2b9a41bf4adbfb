"""Docker-free local runtime: moto in server mode, resources from template.yaml, an HTTP
gateway that serves the template's HttpApi routes by invoking the real handlers."""
