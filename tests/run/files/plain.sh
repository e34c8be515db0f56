#!/bin/sh
# Not executable (on purpose): a program that cannot start.
echo '{}'
