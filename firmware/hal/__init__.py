# Board adapters. The flight core (fsw) never imports hardware modules; a HAL hands it the
# clock, the sensors and the thrust output.
