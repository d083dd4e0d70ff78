"""Management commands: upload, list, try, bind and unbind hook modules from the shell."""
