"""Knowledge base, help-center search and ticket deflection."""
