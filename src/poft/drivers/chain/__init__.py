"""Node mode's chains: `poft chain up|down|restart`, the anvil processes, the deployment
file and the participants' keys."""
