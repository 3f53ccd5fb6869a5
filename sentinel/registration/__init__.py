"""How a worker announces itself in the `worker` table and how the fleet
knows who is alive (Attune's sensor worker registration, made fleet-safe)."""
