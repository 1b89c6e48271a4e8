# tinyee library build fragment: include it from your Makefile (CC, CFLAGS and AR are yours), then link
# $(TINYEE_LIB) or $(TINYEE_OBJS) into your firmware and add $(TINYEE_INCLUDES) to your CFLAGS.
TINYEE_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TINYEE_BUILD ?= build/tinyee
TINYEE_INCLUDES := -I$(TINYEE_DIR)/include
TINYEE_SRCS := $(wildcard $(TINYEE_DIR)/src/*.c)
TINYEE_OBJS := $(patsubst $(TINYEE_DIR)/src/%.c,$(TINYEE_BUILD)/%.o,$(TINYEE_SRCS))
TINYEE_LIB := $(TINYEE_BUILD)/libtinyee.a

$(TINYEE_BUILD)/%.o: $(TINYEE_DIR)/src/%.c $(wildcard $(TINYEE_DIR)/src/*.h $(TINYEE_DIR)/include/*.h)
	@mkdir -p $(@D)
	$(CC) -std=c99 $(CFLAGS) $(TINYEE_INCLUDES) -I$(TINYEE_DIR)/src -c $< -o $@

$(TINYEE_LIB): $(TINYEE_OBJS)
	$(AR) rcs $@ $^
