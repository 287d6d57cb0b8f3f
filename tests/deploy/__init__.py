"""Tests of what an operator deploys: the service unit, the load balancer, monitoring as code."""
