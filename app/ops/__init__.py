"""Operations: incidents and their repairs, the engine's health, and the administrator's page."""
