"""One package per virtual machine; each implements chain.dispatcher.Engine and registers its opcode range."""
