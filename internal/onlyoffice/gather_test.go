package onlyoffice

import ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

var ctrlRegistryGather = ctrlmetrics.Registry.Gather
