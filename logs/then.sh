#!/bin/bash
# usage: then.sh <pid> <command...>: runs the command after process pid ends
pid=$1; shift
while kill -0 $pid 2>/dev/null; do sleep 10; done
"$@"
