# softland flight software core: pure logic, no hardware imports.
VERSION = "0.1.0"
