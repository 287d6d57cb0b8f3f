"""The national population database (CSDLQG về dân cư), reached over SOAP through NDXP."""
